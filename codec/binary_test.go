package codec

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// simPayload builds the 8-byte payload of the sim-env contract.
func simPayload(temp int16, hum uint16, batt, flags uint8, co2 uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], uint16(temp))
	binary.BigEndian.PutUint16(b[2:], hum)
	b[4], b[5] = batt, flags
	binary.BigEndian.PutUint16(b[6:], co2)
	return b
}

func TestBinarySim(t *testing.T) {
	s, err := NewSet(loadContracts(t, "contracts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"typical", simPayload(2150, 4525, 87, 0b1, 612), `s1 temperature 9 float:21.5
s1 humidity 9 float:45.25
s1 battery 9 int:87
s1 motion 9 bool:true
s1 co2 9 int:612
`},
		{"negative temperature, other bits ignored", simPayload(-1234, 0, 0, 0b1111_1110, 65535), `s1 temperature 9 float:-12.34
s1 humidity 9 float:0
s1 battery 9 int:0
s1 motion 9 bool:false
s1 co2 9 int:65535
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.Decode(Message{Topic: "sim/s1/bin", Payload: tt.payload, Received: 9})
			if err != nil {
				t.Fatal(err)
			}
			if got := show(d.Readings); got != tt.want {
				t.Errorf("readings:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	for _, n := range []int{0, 7, 9} {
		_, err := s.Decode(Message{Topic: "sim/s1/bin", Payload: make([]byte, n)})
		want := "contract sim-env@v1: payload: wrong payload length: "
		if !errors.Is(err, ErrLength) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "want 8") {
			t.Errorf("%d bytes: err %v", n, err)
		}
	}
}

func TestBinaryTypes(t *testing.T) {
	f := func(metric, typ string, off int) BinaryField {
		return BinaryField{Metric: metric, Type: typ, Offset: off}
	}
	spec := &BinarySpec{Endian: "little", Fields: []BinaryField{
		f("u8", "u8", 0), f("i8", "i8", 0), f("u16le", "u16", 0), f("i16", "i16", 0),
		{Metric: "u32be", Type: "u32", Offset: 0, Endian: "big"},
		f("i32", "i32", 0), f("u64", "u64", 0), f("i64", "i64", 0), f("f32", "f32", 8), f("f64", "f64", 12),
		{Metric: "nib", Type: "bits", Offset: 1, Bit: 4, Bits: 4},
		{Metric: "wide", Type: "bits", Offset: 0, Bit: 4, Bits: 8},
		{Metric: "scaled", Type: "u8", Offset: 0, Scale: 0.5, ValueOffset: -40},
	}, Timestamp: &BinaryTime{Offset: 20, Type: "u32", Unit: "s"}}
	c := Contract{Name: "types", Topic: "t/{device}", Format: "binary", Binary: spec}
	s, err := NewSet([]Contract{c})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 24)
	copy(b, []byte{0xFE, 0xA1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	binary.LittleEndian.PutUint32(b[8:], math.Float32bits(1.5))
	binary.LittleEndian.PutUint64(b[12:], math.Float64bits(-2.25))
	binary.LittleEndian.PutUint32(b[20:], 1700000000)
	d, err := s.Decode(Message{Topic: "t/x", Payload: b})
	if err != nil {
		t.Fatal(err)
	}
	want := `x u8 1700000000000 int:254
x i8 1700000000000 int:-2
x u16le 1700000000000 int:41470
x i16 1700000000000 int:-24066
x u32be 1700000000000 int:4272029695
x i32 1700000000000 int:-24066
x u64 1700000000000 float:1.8446744073709527e+19
x i64 1700000000000 int:-24066
x f32 1700000000000 float:1.5
x f64 1700000000000 float:-2.25
x nib 1700000000000 int:10
x wide 1700000000000 int:31
x scaled 1700000000000 float:87
`
	if got := show(d.Readings); got != want {
		t.Errorf("readings:\n%s\nwant:\n%s", got, want)
	}
}

func BenchmarkDecodeBinary(b *testing.B) {
	s, err := NewSet(loadContracts(b, "contracts.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	m := Message{Topic: "sim/s1/bin", Payload: simPayload(2150, 4525, 87, 1, 612)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Decode(m); err != nil {
			b.Fatal(err)
		}
	}
}
