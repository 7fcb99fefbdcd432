package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/edgevault/edgevault/codec"
	"github.com/edgevault/edgevault/point"
)

// envContract is the simulator's 8-byte sensor layout (codec/doc.go).
func envContract(version int) codec.Contract {
	return codec.Contract{Name: "env", Version: version, Topic: "sim/{device}/bin", Format: codec.FormatBinary,
		Binary: &codec.BinarySpec{Length: 8, Fields: []codec.BinaryField{
			{Metric: "temperature", Offset: 0, Type: "i16", Scale: 0.01},
			{Metric: "humidity", Offset: 2, Type: "u16", Scale: 0.01},
			{Metric: "battery", Offset: 4, Type: "u8"},
			{Metric: "motion", Offset: 5, Type: "bool"},
			{Metric: "co2", Offset: 6, Type: "u16"},
		}}}
}

func meterContract() codec.Contract {
	return codec.Contract{Name: "meter", Version: 1, Topic: "m/{device}", Format: codec.FormatBinary,
		Binary: &codec.BinarySpec{Endian: "little", Fields: []codec.BinaryField{{Metric: "energy_wh", Offset: 0, Type: "u32"}},
			Timestamp: &codec.BinaryTime{Offset: 4, Type: "u32", Unit: "s"}}}
}

func envFrame(temp int16, hum uint16, batt byte, motion bool, co2 uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], uint16(temp))
	binary.BigEndian.PutUint16(b[2:], hum)
	b[4] = batt
	if motion {
		b[5] = 1
	}
	binary.BigEndian.PutUint16(b[6:], co2)
	return b
}

func testFrames(t testing.TB) *ContractFrames {
	t.Helper()
	v1 := envContract(1)
	v2 := envContract(2)
	v2.Binary.Fields = v2.Binary.Fields[:1]
	ignore := codec.Contract{Name: "noise", Topic: "n/#", Format: codec.FormatIgnore}
	cf, err := NewContractFrames([]codec.Contract{v1, v2, meterContract(), ignore})
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func TestDecodeGroup(t *testing.T) {
	meter := []byte{0x10, 0x27, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(meter[4:], 1700000000)
	env := Envelope{Type: TypeGroup, ID: "g", Time: 1000, Frames: []Frame{
		{Sensor: "s1", Contract: "env@v1", Data: envFrame(2150, 4000, 90, true, 420)},
		{Sensor: "s2", Contract: "env@v1", Data: []byte{1, 2, 3}},                         // wrong length
		{Sensor: "s3", Contract: "env", Time: 2000, Data: envFrame(-500, 0, 0, false, 0)}, // highest version: v2
		{Sensor: "s4", Contract: "gone@v1", Data: []byte{1}},
		{Sensor: "s5", Contract: "meter", Data: meter},
		{Sensor: "s6", Contract: "env@v3", Data: envFrame(1, 1, 1, false, 1)},
		{Sensor: "s7", Contract: "noise", Data: []byte{1}},
	}}
	got, errs := Decoder{Frames: testFrames(t)}.DecodeGroup(env, 5000)
	want := []point.Reading{
		{Device: "s1", Metric: "temperature", Time: 1000, Value: point.Float(21.5)},
		{Device: "s1", Metric: "humidity", Time: 1000, Value: point.Float(40)},
		{Device: "s1", Metric: "battery", Time: 1000, Value: point.Int(90)},
		{Device: "s1", Metric: "motion", Time: 1000, Value: point.Bool(true)},
		{Device: "s1", Metric: "co2", Time: 1000, Value: point.Int(420)},
		{Device: "s3", Metric: "temperature", Time: 2000, Value: point.Float(-5)},
		{Device: "s5", Metric: "energy_wh", Time: 1700000000000, Value: point.Int(10000)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("readings\n got %v\nwant %v", got, want)
	}
	wantErrs := []struct {
		index int
		is    error
	}{{1, codec.ErrLength}, {3, ErrUnknownContract}, {5, ErrUnknownContract}, {6, ErrUnknownContract}}
	if len(errs) != len(wantErrs) {
		t.Fatalf("errors: %v", errs)
	}
	for i, w := range wantErrs {
		if errs[i].Index != w.index || !errors.Is(&errs[i], w.is) || errs[i].Frame.Sensor != env.Frames[w.index].Sensor {
			t.Errorf("errs[%d] = %v, want index %d wrapping %v", i, &errs[i], w.index, w.is)
		}
	}
}

func TestDecodeGroupTimeFallback(t *testing.T) {
	env := Envelope{Type: TypeGroup, ID: "g", Frames: []Frame{{Sensor: "s1", Contract: "env@v2", Data: envFrame(100, 0, 0, false, 0)}}}
	got, errs := Decoder{Frames: testFrames(t)}.DecodeGroup(env, 777)
	if len(errs) != 0 || len(got) != 1 || got[0].Time != 777 {
		t.Fatalf("got %v, %v; want one reading at the receive time", got, errs)
	}
}

func TestNewContractFramesError(t *testing.T) {
	bad := codec.Contract{Name: "bad", Format: codec.FormatBinary, Binary: &codec.BinarySpec{}}
	if _, err := NewContractFrames([]codec.Contract{bad}); err == nil {
		t.Fatal("a contract without fields compiled")
	}
}

func TestReadings(t *testing.T) {
	env := Envelope{Type: TypeReport, ID: "r", Time: 50, Readings: []Reading{
		{Metric: "uptime", Value: point.Int(3)},
		{Sensor: "s1", Metric: "t", Time: 60, Value: point.Float(1)},
	}}
	got := Readings("hub", env, 99)
	want := []point.Reading{
		{Device: "hub", Metric: "uptime", Time: 50, Value: point.Int(3)},
		{Device: "s1", Metric: "t", Time: 60, Value: point.Float(1)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	env.Time = 0
	if got := Readings("hub", env, 99); got[0].Time != 99 {
		t.Fatalf("receive time not used: %v", got)
	}
}
