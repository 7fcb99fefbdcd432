package broker

import (
	"bytes"
	"testing"
)

func TestConnackFirst(t *testing.T) {
	connack := []byte{0x20, 0x02, 0x01, 0x00}
	pub := func(b byte) []byte { return []byte{0x30, 0x04, 0x00, 0x01, 'a', b} }
	auth := []byte{0xf0, 0x00}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name   string
		writes [][]byte
		want   []byte
	}{
		{"connack then publish", [][]byte{connack, pub('1')}, cat(connack, pub('1'))},
		{"publish raced ahead", [][]byte{pub('1'), connack, pub('2')}, cat(connack, pub('1'), pub('2'))},
		{"coalesced in one write", [][]byte{cat(pub('1'), pub('2'), connack, pub('3'))}, cat(connack, pub('1'), pub('2'), pub('3'))},
		{"auth passes before connack", [][]byte{auth, pub('1'), connack}, cat(auth, connack, pub('1'))},
		{"bytes that are no packet pass", [][]byte{{0x30, 0x80}}, []byte{0x30, 0x80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g connackFirst
			var got []byte
			for _, w := range tt.writes {
				out, err := g.order(w)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, out...)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("wire %x, want %x", got, tt.want)
			}
		})
	}
}

func TestConnackFirstBounded(t *testing.T) {
	var g connackFirst
	big := append([]byte{0x30, 0xff, 0xff, 0x3f}, make([]byte, 1<<20)...) // one publish of 1 MiB
	if _, err := g.order(big); err == nil {
		t.Fatal("held more than maxHeldEarly before a CONNACK")
	}
}

func TestPacketLen(t *testing.T) {
	long := append([]byte{0x30, 0x80, 0x01}, make([]byte, 128)...) // remaining length 128, two bytes
	for _, tt := range []struct {
		b    []byte
		n    int
		okay bool
	}{
		{[]byte{0x20, 0x02, 0, 0}, 4, true},
		{[]byte{0x20, 0x02, 0}, 0, false},
		{long, 131, true},
		{[]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}, 0, false},
		{[]byte{0x30}, 0, false},
	} {
		if n, ok := packetLen(tt.b); ok != tt.okay || (ok && n != tt.n) {
			t.Errorf("packetLen(%x) = %d, %v; want %d, %v", tt.b, n, ok, tt.n, tt.okay)
		}
	}
}
