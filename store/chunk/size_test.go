package chunk

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgevault/edgevault/point"
)

// TestSize checks the compression goal: a 2-decimal random walk at 1 Hz costs
// well under 2 bytes a point, timestamps and header included.
func TestSize(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const start = 1_700_000_000_000
	tests := []struct {
		name  string
		times func(n int) []int64
		limit float64
	}{
		{"regular 1Hz", func(n int) []int64 { return regular(start, 1000, n) }, 1.0},
		{"1Hz jitter 20ms", func(n int) []int64 { return jittered(r, start, 1000, 20, n) }, 2.0},
	}
	for _, tc := range tests {
		for _, n := range []int{120, 1000, 3600} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, n), func(t *testing.T) {
				b := mustEncode(t, point.KindFloat, tc.times(n), randomWalk(r, n))
				bpp := float64(len(b)) / float64(n)
				t.Logf("%d points: %d bytes, %.3f bytes/point, value encoding %d", n, len(b), bpp, b[valEncOffset(t, b)])
				if bpp >= tc.limit {
					t.Errorf("%.3f bytes/point, want < %.1f", bpp, tc.limit)
				}
			})
		}
	}
}

// valEncOffset returns where the value encoding id sits in b.
func valEncOffset(t *testing.T, b []byte) int {
	h, err := parseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h.n + 1
}

func TestFloatEncodingChoice(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	tests := []struct {
		name string
		vals []point.Value
		want byte
	}{
		{"two decimals", randomWalk(r, 500), encFloatDec},
		{"random bits", randomBits(r, 500), encFloatXOR},
		{"zero", floats(1, 0, 2), encFloatDec},
		{"negative zero", floats(1, math.Copysign(0, -1), 2), encFloatXOR},
		{"with NaN", append(randomWalk(r, 10), floats(math.NaN())...), encFloatXOR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustEncode(t, point.KindFloat, regular(0, 1000, len(tc.vals)), tc.vals)
			if got := b[valEncOffset(t, b)]; got != tc.want {
				t.Errorf("encoding %d, want %d", got, tc.want)
			}
		})
	}
}
