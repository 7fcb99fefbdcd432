package batch

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/edgevault/edgevault/point"
)

func testKeys(seed byte) Keys {
	k := Keys{Sign: bytes.Repeat([]byte{seed}, 32), Data: bytes.Repeat([]byte{seed + 1}, 32)}
	return k
}

func hdr(kind string) Header {
	return Header{EdgeID: "edge-1", Seq: 7, Created: 1_700_000_000_000, Kind: kind, Priority: 2}
}

func rd(dev, metric string, t int64, v point.Value, tags ...point.Tag) point.Reading {
	return point.Reading{Device: dev, Metric: metric, Tags: tags, Time: t, Value: v}
}

// randomWalk makes series×n readings of 2-decimal 1 Hz random walks.
func randomWalk(series, n int) []point.Reading {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]point.Reading, 0, series*n)
	for s := range series {
		v := 20.0
		dev := fmt.Sprintf("sensor-%03d", s)
		for i := range n {
			v += float64(rng.IntN(101)-50) / 100
			v = math.Round(v*100) / 100
			out = append(out, rd(dev, "temperature", 1_700_000_000_000+int64(i)*1000, point.Float(v),
				point.Tag{Key: "room", Value: "kitchen"}))
		}
	}
	return out
}

// sortedCopy orders readings by series then position, as Open groups them.
func grouped(rs []point.Reading) []point.Reading {
	out := slices.Clone(rs)
	order := map[string]int{}
	for _, r := range rs {
		k := string(rune(r.Value.Kind())) + r.SeriesKey()
		if _, ok := order[k]; !ok {
			order[k] = len(order)
		}
	}
	slices.SortStableFunc(out, func(a, b point.Reading) int {
		return order[string(rune(a.Value.Kind()))+a.SeriesKey()] - order[string(rune(b.Value.Kind()))+b.SeriesKey()]
	})
	return out
}

func TestRoundTrip(t *testing.T) {
	tags := []point.Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}
	cases := []struct {
		name string
		b    Batch
	}{
		{"empty", Batch{Header: hdr(KindTelemetry)}},
		{"random walk", Batch{Header: hdr(KindTelemetry), Readings: randomWalk(3, 200)}},
		{"odd floats", Batch{Header: hdr(KindTelemetry), Readings: []point.Reading{
			rd("d", "m", 1, point.Float(math.NaN())), rd("d", "m", 2, point.Float(math.Inf(-1))),
			rd("d", "m", 3, point.Float(math.Copysign(0, -1))), rd("d", "m", 4, point.Float(1e-300)),
			rd("d", "m", 5, point.Float(0.1)), rd("d", "m", 6, point.Float(math.MaxFloat64)),
		}}},
		{"decimal floats", Batch{Header: hdr(KindTelemetry), Readings: []point.Reading{
			rd("d", "m", 10, point.Float(21.37)), rd("d", "m", 5, point.Float(-0.005)), rd("d", "m", -7, point.Float(1e9)),
		}}},
		{"ints and extremes", Batch{Header: hdr(KindTelemetry), Readings: []point.Reading{
			rd("d", "i", math.MinInt64, point.Int(math.MaxInt64)), rd("d", "i", math.MaxInt64, point.Int(math.MinInt64)),
			rd("d", "i", 0, point.Int(0)), rd("d", "i", 1, point.Int(-1)),
		}}},
		{"bools strings tags mixed", Batch{Header: hdr(KindTelemetry), Readings: []point.Reading{
			rd("d", "on", 1, point.Bool(true), tags...), rd("e", "state", 1, point.String("héllo\x00")),
			rd("d", "on", 2, point.Bool(false), tags...), rd("d", "on", 3, point.Bool(true), tags...),
			rd("d", "on", 4, point.Int(3), tags...), rd("e", "state", 0, point.String("")),
		}}},
		{"records", Batch{Header: hdr(KindAlerts), Records: [][]byte{[]byte(`{"id":"a1"}`), {}, []byte(`[1,2]`)}}},
	}
	k := testKeys(1)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := Seal(tc.b, k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Open(body, k, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.b
			want.Header.Count = len(want.Readings) + len(want.Records)
			want.Readings = grouped(want.Readings)
			if !reflect.DeepEqual(got.Header, want.Header) {
				t.Fatalf("header = %+v, want %+v", got.Header, want.Header)
			}
			if len(got.Readings) != len(want.Readings) || len(got.Records) != len(want.Records) {
				t.Fatalf("got %d readings %d records, want %d %d", len(got.Readings), len(got.Records), len(want.Readings), len(want.Records))
			}
			for i := range want.Readings {
				g, w := got.Readings[i], want.Readings[i]
				if g.SeriesKey() != w.SeriesKey() || g.Time != w.Time || !g.Value.Equal(w.Value) {
					t.Fatalf("reading %d = %+v, want %+v", i, g, w)
				}
			}
			for i := range want.Records {
				if !bytes.Equal(got.Records[i], want.Records[i]) {
					t.Fatalf("record %d = %q, want %q", i, got.Records[i], want.Records[i])
				}
			}
			h, err := PeekHeader(body)
			if err != nil || h != want.Header {
				t.Fatalf("PeekHeader = %+v, %v", h, err)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	k := testKeys(1)
	body, err := Seal(Batch{Header: hdr(KindTelemetry), Readings: randomWalk(2, 50)}, k)
	if err != nil {
		t.Fatal(err)
	}
	bomb, err := Seal(Batch{Header: hdr(KindAlerts), Records: [][]byte{make([]byte, 8<<20)}}, k)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { b := bytes.Clone(body); b[i] ^= 1; return b }
	cases := []struct {
		name   string
		body   []byte
		keys   Keys
		limits Limits
		want   error
	}{
		{"empty", nil, k, Limits{}, ErrBadBatch},
		{"bad magic", flip(0), k, Limits{}, ErrBadBatch},
		{"header byte changed", flip(8), k, Limits{}, ErrDecrypt},
		{"nonce changed", flip(len(body) - 40), k, Limits{}, ErrDecrypt},
		{"ciphertext changed", flip(len(body) - 1), k, Limits{}, ErrDecrypt},
		{"truncated", body[:len(body)-20], k, Limits{}, ErrDecrypt},
		{"truncated to header", body[:40], k, Limits{}, ErrBadBatch},
		{"wrong data key", body, Keys{Sign: k.Sign, Data: testKeys(9).Data}, Limits{}, ErrDecrypt},
		{"short key", body, Keys{Sign: k.Sign, Data: k.Data[:16]}, Limits{}, ErrBadKey},
		{"body over limit", body, k, Limits{MaxBody: 100}, ErrTooLarge},
		{"too many items", body, k, Limits{MaxItems: 99}, ErrTooLarge},
		{"zstd bomb", bomb, k, Limits{MaxRaw: 1 << 20}, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.body, tc.keys, tc.limits)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
		})
	}
	if len(bomb) > 2048 {
		t.Fatalf("bomb is %d bytes; the test wants a small body", len(bomb))
	}
}

func TestDecodePayloadRejects(t *testing.T) {
	good, err := appendPayload(nil, randomWalk(1, 5), [][]byte{[]byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"empty", nil, ErrBadBatch},
		{"huge group count", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, ErrBadBatch},
		{"trailing bytes", append(bytes.Clone(good), 0), ErrBadBatch},
		{"truncated", good[:len(good)-3], ErrBadBatch},
		{"bad kind", []byte{1, 1, 'd', 1, 'm', 0, 9, 1, 0, 0}, ErrBadBatch},
		{"bad float mode", []byte{1, 1, 'd', 1, 'm', 0, 1, 1, 0, 99, 0}, ErrBadBatch},
		{"items over limit", good[:0:0], ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b Batch
			raw, limit := tc.raw, 10
			if tc.want == ErrTooLarge {
				raw, limit = good, 5
			}
			err := decodePayload(raw, &b, limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("decodePayload = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestWireSize checks the <= 3 bytes/point goal on 2-decimal 1 Hz random
// walks and logs JSON of the same data for comparison.
func TestWireSize(t *testing.T) {
	rs := randomWalk(10, 1000)
	body, err := Seal(Batch{Header: hdr(KindTelemetry), Readings: rs}, testKeys(1))
	if err != nil {
		t.Fatal(err)
	}
	per := float64(len(body)) / float64(len(rs))
	js, _ := json.Marshal(jsonReadings(rs))
	jz := encoder.EncodeAll(js, nil)
	t.Logf("sealed %.2f B/point; JSON %.1f B/point, JSON+zstd %.2f B/point",
		per, float64(len(js))/float64(len(rs)), float64(len(jz))/float64(len(rs)))
	if per > 3 {
		t.Fatalf("%.2f bytes/point on the wire, want <= 3", per)
	}
}

type jsonReading struct {
	Device string            `json:"device"`
	Metric string            `json:"metric"`
	Tags   map[string]string `json:"tags,omitempty"`
	Time   int64             `json:"time"`
	Value  point.Value       `json:"value"`
}

func jsonReadings(rs []point.Reading) []jsonReading {
	out := make([]jsonReading, len(rs))
	for i, r := range rs {
		tags := map[string]string{}
		for _, t := range r.Tags {
			tags[t.Key] = t.Value
		}
		out[i] = jsonReading{r.Device, r.Metric, tags, r.Time, r.Value}
	}
	return out
}

// TestWireLayout pins the bytes doc.go describes: the clear prefix and
// header of a body, and the plaintext payload before zstd.
func TestWireLayout(t *testing.T) {
	rs := []point.Reading{
		rd("d", "m", 1000, point.Float(1.5)), rd("d", "m", 2000, point.Float(1.75)), rd("d", "m", 3000, point.Float(2)),
	}
	b := Batch{Header: Header{EdgeID: "e", Seq: 1, Created: 2, Kind: KindTelemetry, Priority: 3}, Readings: rs}
	body, err := Seal(b, testKeys(1))
	if err != nil {
		t.Fatal(err)
	}
	wantHead := "45564201" + "0021" + // magic, version, hlen 33
		"0165" + "0000000000000001" + "0000000000000002" + // edge "e", seq, created
		"0974656c656d65747279" + "03" + "00000003" // kind "telemetry", priority, count
	if got := hex.EncodeToString(body[:len(wantHead)/2]); got != wantHead {
		t.Fatalf("head\n got %s\nwant %s", got, wantHead)
	}
	raw, err := appendPayload(nil, rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantPayload := "01" + "0164" + "016d" + "00" + "01" + "03" + // 1 group: "d" "m", no tags, float, 3 points
		"d00f" + "d00f" + "00" + // t0 1000, d1 1000, dod 0
		"03" + "ac02" + "32" + "32" + // 2 decimals: 150, +25, +25
		"00" // no records
	if got := hex.EncodeToString(raw); got != wantPayload {
		t.Fatalf("payload\n got %s\nwant %s", got, wantPayload)
	}
}
