package uplink

import (
	"bytes"
	"errors"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		r    record
	}{
		{"empty body", record{meta: meta{Seq: 1, Kind: "telemetry"}}},
		{"bulk", record{meta: meta{Seq: 1 << 40, Created: 1767225600000, Kind: "telemetry",
			Count: 10000, Oldest: 1767225599000}, Body: []byte("sealed")}},
		{"high rejected", record{meta: meta{Seq: 7, Created: -1, Priority: PriorityHigh, Kind: "alerts",
			Count: 1, Reason: "401 bad signature"}, Body: bytes.Repeat([]byte{0}, 300)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.r.encode()
			got, err := decodeRecord(v)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.r
			want.Size = int64(len(v))
			if got.meta != want.meta || !bytes.Equal(got.Body, want.Body) {
				t.Errorf("decoded %+v, want %+v", got, want)
			}
		})
	}
}

func TestRecordCorrupt(t *testing.T) {
	good := (&record{meta: meta{Seq: 3, Kind: "telemetry", Count: 2, Reason: "x"}, Body: []byte("b")}).encode()
	tests := []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"wrong version", append([]byte{9}, good[1:]...)},
		{"truncated seq", []byte{1, 0x80}},
		{"no priority", good[:3]},
		{"bad priority", append(append([]byte{}, good[:3]...), 5, 0, 0, 0, 0)},
		{"kind too long", append(append([]byte{}, good[:4]...), 100, 'x')},
		{"truncated reason", good[:len(good)-3]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRecord(tt.v); !errors.Is(err, ErrCorrupt) {
				t.Errorf("decode = %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add((&record{meta: meta{Seq: 1, Kind: "telemetry", Count: 10, Oldest: 5}, Body: []byte("x")}).encode())
	f.Add((&record{meta: meta{Seq: 99, Priority: PriorityHigh, Kind: "alerts", Reason: "r"}}).encode())
	f.Add([]byte{1, 0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeRecord(v)
		if err != nil {
			return
		}
		again, err := decodeRecord(r.encode())
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		again.Size = r.Size
		if again.meta != r.meta || !bytes.Equal(again.Body, r.Body) {
			t.Fatalf("round trip changed %+v to %+v", r, again)
		}
	})
}
