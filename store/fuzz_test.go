package store

import (
	"bytes"
	"testing"

	"github.com/edgevault/edgevault/point"
)

// WAL records and rollups are read back from disk; a torn or corrupted
// value must give an error, never a panic or a huge allocation.
func FuzzDecodeWAL(f *testing.F) {
	f.Add(encodeWAL(nil, []walPoint{{1, t0, point.Float(1.5)}, {2, t0 - 5, point.Int(-3)},
		{3, t0, point.Bool(true)}, {1, t0 + 1, point.String("on")}}))
	f.Add([]byte{walVersion, 0})
	f.Add([]byte{walVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := decodeWAL(b)
		if err != nil {
			return
		}
		again, err := decodeWAL(encodeWAL(nil, pts))
		if err != nil || len(again) != len(pts) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range pts {
			if again[i] != pts[i] {
				t.Fatalf("point %d: %+v != %+v", i, again[i], pts[i])
			}
		}
	})
}

func FuzzDecodeAgg(f *testing.F) {
	var a agg
	a.add(t0, point.Float(2))
	a.add(t0+5, point.Float(-1))
	f.Add(encodeAgg(nil, &a))
	var s agg
	s.add(t0, point.String("x"))
	f.Add(encodeAgg(nil, &s))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAgg(b)
		if err != nil {
			return
		}
		enc := encodeAgg(nil, &a)
		if a2, err := decodeAgg(enc); err != nil || !bytes.Equal(encodeAgg(nil, &a2), enc) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func TestWALRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		pts  []walPoint
	}{
		{"empty", nil},
		{"kinds", []walPoint{{1, t0, point.Float(1.25)}, {7, -3, point.Int(1 << 60)},
			{2, t0, point.Bool(false)}, {9, t0, point.String("")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeWAL(encodeWAL(nil, tc.pts))
			if err != nil || len(got) != len(tc.pts) {
				t.Fatalf("got %v %v", got, err)
			}
			for i := range got {
				if got[i] != tc.pts[i] {
					t.Fatalf("point %d: %+v", i, got[i])
				}
			}
			if _, err := decodeWAL(encodeWAL(nil, tc.pts)[:1]); err == nil {
				t.Fatal("truncated record decoded")
			}
		})
	}
}
