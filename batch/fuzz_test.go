package batch

import (
	"bytes"
	"encoding/json"

	"math"
	"testing"

	"github.com/edgevault/edgevault/point"
)

// FuzzOpen feeds arbitrary bodies to Open with valid keys. GCM rejects
// nearly all of them, so FuzzPayload below covers the decoder itself.
func FuzzOpen(f *testing.F) {
	k := testKeys(1)
	for _, b := range []Batch{
		{Header: hdr(KindTelemetry), Readings: randomWalk(2, 20)},
		{Header: hdr(KindAlerts), Records: [][]byte{[]byte(`{"a":1}`)}},
	} {
		body, err := Seal(b, k)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Add([]byte("EVB\x01\x00\x1b"))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := Open(body, k, Limits{MaxRaw: 1 << 20, MaxItems: 10_000})
		if err == nil && len(b.Readings)+len(b.Records) != b.Header.Count {
			t.Fatal("count mismatch accepted")
		}
		_, _ = PeekHeader(body)
	})
}

// FuzzPayload decodes arbitrary plaintext payloads, as a holder of a data
// key could send; decoding must not panic or allocate past the limits, and
// what decodes must re-encode to something that decodes the same.
func FuzzPayload(f *testing.F) {
	for _, rs := range [][]point.Reading{randomWalk(1, 10), {
		rd("d", "b", 1, point.Bool(true)), rd("d", "s", 2, point.String("x")), rd("d", "i", 3, point.Int(-4)),
		rd("d", "f", 4, point.Float(math.Pi)),
	}} {
		raw, err := appendPayload(nil, rs, [][]byte{[]byte("{}")})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b Batch
		if decodePayload(raw, &b, 10_000) != nil {
			return
		}
		again, err := appendPayload(nil, b.Readings, b.Records)
		if err != nil {
			t.Fatal(err)
		}
		var b2 Batch
		if err := decodePayload(again, &b2, 10_000); err != nil {
			t.Fatalf("re-encoded payload does not decode: %v", err)
		}
		if len(b2.Readings) != len(b.Readings) || len(b2.Records) != len(b.Records) {
			t.Fatal("re-encoded payload changed size")
		}
	})
}

// FuzzRoundTrip seals readings built from fuzz input and checks Open gives
// them back.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("sensor"), int64(1000), uint64(0x4035000000000000), uint8(1))
	f.Add([]byte(""), int64(-1), uint64(math.MaxUint64), uint8(4))
	k := testKeys(3)
	f.Fuzz(func(t *testing.T, name []byte, step int64, bits uint64, kind uint8) {
		var rs []point.Reading
		for i := range 5 {
			v := []point.Value{point.Float(math.Float64frombits(bits + uint64(i))), point.Int(int64(bits) * int64(i)),
				point.Bool(bits>>i&1 == 1), point.String(string(name))}[kind%4]
			rs = append(rs, rd(string(name), "m", step*int64(i)*int64(i), v))
		}
		body, err := Seal(Batch{Header: hdr(KindTelemetry), Readings: rs}, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Open(body, k, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			g := got.Readings[i]
			if g.Device != rs[i].Device || g.Time != rs[i].Time || !g.Value.Equal(rs[i].Value) {
				t.Fatalf("reading %d = %+v, want %+v", i, g, rs[i])
			}
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	rs := randomWalk(10, 1000)
	k := testKeys(1)
	var n int
	for b.Loop() {
		body, err := Seal(Batch{Header: hdr(KindTelemetry), Readings: rs}, k)
		if err != nil {
			b.Fatal(err)
		}
		n = len(body)
	}
	b.ReportMetric(float64(n)/float64(len(rs)), "B/point")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/point")
}

func BenchmarkOpen(b *testing.B) {
	rs := randomWalk(10, 1000)
	k := testKeys(1)
	body, err := Seal(Batch{Header: hdr(KindTelemetry), Readings: rs}, k)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Open(body, k, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/point")
}

// BenchmarkJSON is the peer: the same readings as JSON, zstd-compressed.
func BenchmarkJSON(b *testing.B) {
	rs := jsonReadings(randomWalk(10, 1000))
	var n int
	for b.Loop() {
		var buf bytes.Buffer
		if err := jsonEncode(&buf, rs); err != nil {
			b.Fatal(err)
		}
		n = len(encoder.EncodeAll(buf.Bytes(), nil))
	}
	b.ReportMetric(float64(n)/float64(len(rs)), "B/point")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rs)), "ns/point")
}

func jsonEncode(buf *bytes.Buffer, rs []jsonReading) error {
	return json.NewEncoder(buf).Encode(rs)
}
