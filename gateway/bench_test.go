package gateway

import (
	"strconv"
	"testing"
)

// group20 is one gateway's report of 20 sensors, each an 8-byte frame.
func group20() Envelope {
	env := Envelope{Type: TypeGroup, ID: "1700000000000-42", Time: 1700000000000}
	for i := range 20 {
		env.Frames = append(env.Frames, Frame{Sensor: "gw0001-s" + strconv.Itoa(i), Contract: "env@v1",
			Data: envFrame(int16(2000+i), 4000, 90, i%2 == 0, 420)})
	}
	return env
}

func benchDecode(b *testing.B, binForm bool) {
	payload := Encode(group20(), binForm)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEnvelope(payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeGroup20JSON(b *testing.B)   { benchDecode(b, false) }
func BenchmarkDecodeGroup20Binary(b *testing.B) { benchDecode(b, true) }

func BenchmarkEncodeGroup20Binary(b *testing.B) {
	env := group20()
	b.ReportAllocs()
	for b.Loop() {
		Encode(env, true)
	}
}

// BenchmarkDecodeGroup20Frames is the whole up path of a group: envelope
// and every frame through its contract.
func BenchmarkDecodeGroup20Frames(b *testing.B) {
	payload := Encode(group20(), true)
	d := Decoder{Frames: testFrames(b)}
	b.ReportAllocs()
	for b.Loop() {
		env, err := DecodeEnvelope(payload)
		if err != nil {
			b.Fatal(err)
		}
		if rs, errs := d.DecodeGroup(env, 1); len(errs) != 0 || len(rs) != 100 {
			b.Fatalf("%d readings, %v", len(rs), errs)
		}
	}
}

func TestGroup20Sizes(t *testing.T) {
	j, bin := len(Encode(group20(), false)), len(Encode(group20(), true))
	t.Logf("20-sensor group: json %d bytes, binary %d bytes (%.0f%%)", j, bin, 100*float64(bin)/float64(j))
	if bin >= j {
		t.Fatalf("binary form %d bytes is not smaller than JSON %d", bin, j)
	}
}

// BenchmarkUpPathGroup20 is the node's CPU share of one gateway report
// before the store: envelope, every frame through its contract, the ack.
func BenchmarkUpPathGroup20(b *testing.B) {
	for _, binForm := range []bool{false, true} {
		b.Run(map[bool]string{false: "json", true: "binary"}[binForm], func(b *testing.B) {
			payload := Encode(group20(), binForm)
			d := Decoder{Frames: testFrames(b)}
			b.ReportAllocs()
			for b.Loop() {
				env, err := DecodeEnvelope(payload)
				if err != nil {
					b.Fatal(err)
				}
				if rs, errs := d.DecodeGroup(env, 1); len(errs) != 0 || len(rs) != 100 {
					b.Fatalf("%d readings, %v", len(rs), errs)
				}
				AckFor(env)
			}
		})
	}
}
