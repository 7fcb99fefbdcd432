package deadletter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/kv"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func open(t testing.TB, store kv.Store, opts Options) (*Store, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	s, err := New(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestAddListEvict(t *testing.T) {
	store := kv.NewMem()
	s, reg := open(t, store, Options{MaxEntries: 3, MaxPayload: 4})
	for i := range 5 {
		l := Letter{Time: t0.Add(time.Duration(i) * time.Second), Topic: fmt.Sprint("dev/", i), Reason: "decode json: bad", Payload: []byte("abcdef")}
		if err := s.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	if s.Count() != 3 {
		t.Fatalf("count %d", s.Count())
	}
	got, next, err := s.List(Filter{})
	if err != nil || next != 0 || len(got) != 3 {
		t.Fatalf("list %v %d %v", got, next, err)
	}
	if got[0].ID != 5 || got[2].ID != 3 || string(got[0].Payload) != "abcd" || !got[0].Truncated || got[0].Size != 6 {
		t.Fatalf("newest %+v", got[0])
	}
	if !got[0].Time.Equal(t0.Add(4 * time.Second)) {
		t.Fatalf("time %v", got[0].Time)
	}
	if v := counter(t, reg, "edgevault_deadletters_evicted_total", ""); v != 2 {
		t.Fatalf("evicted %v", v)
	}
	if v := counter(t, reg, "edgevault_deadletters_total", "decode_json"); v != 5 {
		t.Fatalf("added %v", v)
	}
	// Reopen: ids continue, eviction state is kept.
	s2, _ := open(t, store, Options{MaxEntries: 3})
	if err := s2.Add(Letter{Topic: "x"}); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s2.List(Filter{Limit: 1})
	if s2.Count() != 3 || got[0].ID != 6 {
		t.Fatalf("after reopen count %d first %+v", s2.Count(), got[0])
	}
}

func TestFilterAndPaging(t *testing.T) {
	s, _ := open(t, kv.NewMem(), Options{Now: func() time.Time { return t0 }})
	topics := []string{"devices/a/telemetry", "devices/b/telemetry", "zigbee2mqtt/lamp", "devices/a/status", "devices/c/telemetry"}
	for i, tp := range topics {
		if err := s.Add(Letter{Time: t0.Add(time.Duration(i) * time.Minute), Topic: tp}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		f    Filter
		want []uint64
		next uint64
	}{
		{"all", Filter{}, []uint64{5, 4, 3, 2, 1}, 0},
		{"prefix", Filter{Topic: "devices/a"}, []uint64{4, 1}, 0},
		{"no empty last page", Filter{Topic: "devices/a", Limit: 2}, []uint64{4, 1}, 0},
		{"filtered page", Filter{Topic: "devices/+/telemetry", Limit: 1, Before: 5}, []uint64{2}, 2},
		{"plus", Filter{Topic: "devices/+/telemetry"}, []uint64{5, 2, 1}, 0},
		{"hash", Filter{Topic: "zigbee2mqtt/#"}, []uint64{3}, 0},
		{"since", Filter{Since: t0.Add(3 * time.Minute)}, []uint64{5, 4}, 0},
		{"page 1", Filter{Limit: 2}, []uint64{5, 4}, 4},
		{"page 2", Filter{Limit: 2, Before: 4}, []uint64{3, 2}, 2},
		{"page 3", Filter{Limit: 2, Before: 2}, []uint64{1}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.List(tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []uint64
			for _, l := range got {
				ids = append(ids, l.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.want) || next != tc.next {
				t.Fatalf("ids %v next %d, want %v next %d", ids, next, tc.want, tc.next)
			}
		})
	}
}

func TestBadFilter(t *testing.T) {
	s, _ := open(t, kv.NewMem(), Options{})
	for name, f := range map[string]Filter{
		"negative limit": {Limit: -1},
		"huge limit":     {Limit: MaxLimit + 1},
		"hash not last":  {Topic: "a/#/b"},
		"partial plus":   {Topic: "a/b+"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := s.List(f); !errors.Is(err, ErrBadFilter) {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "x/y", true},
		{"+/+", "a", false},
		{"a/b/c", "a/b", false},
	}
	for _, tc := range cases {
		if got := MatchTopic(tc.filter, tc.topic); got != tc.want {
			t.Errorf("MatchTopic(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}

func TestJSON(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"text", []byte(`{"t":1`), `"payload":"eyJ0Ijox","payload_text":"{\"t\":1"`},
		{"binary", []byte{0xff, 0x00}, `"payload":"/wA=","truncated"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(Letter{ID: 1, Time: t0, Payload: tc.payload})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(tc.want)) {
				t.Fatalf("%s lacks %s", b, tc.want)
			}
		})
	}
}

func TestReasonClass(t *testing.T) {
	for reason, want := range map[string]string{
		"decode json: unexpected EOF": "decode_json",
		"no contract":                 "no_contract",
		"Bad: x":                      "other",
		"":                            "other",
		strings.Repeat("a", 40):       "other",
	} {
		if got := ReasonClass(reason); got != want {
			t.Errorf("ReasonClass(%q) = %q, want %q", reason, got, want)
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	s, _ := open(b, kv.NewMem(), Options{MaxEntries: 1000})
	l := Letter{Time: t0, Topic: "devices/a/telemetry", Reason: "decode json: bad", Payload: bytes.Repeat([]byte("x"), 200)}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Add(l); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecode: a corrupt stored letter is an error, never a panic, and a
// good one round-trips.
func FuzzDecode(f *testing.F) {
	b, _ := json.Marshal(stored(Letter{ID: 3, Time: t0, Topic: "a/b", Payload: []byte{0, 1}}))
	f.Add(b)
	f.Add([]byte(`{"id":1,"time":"x"}`))
	f.Add([]byte(`{"payload":"!!"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := decode(b)
		if err != nil {
			return
		}
		b2, err := json.Marshal(stored(l))
		if err != nil {
			t.Fatal(err)
		}
		l2, err := decode(b2)
		if err != nil || l2.ID != l.ID || !l2.Time.Equal(l.Time) || !bytes.Equal(l2.Payload, l.Payload) {
			t.Fatalf("round trip %+v -> %+v (%v)", l, l2, err)
		}
	})
}

// BenchmarkListFiltered: a page of 100 from a full store where one letter
// in ten matches.
func BenchmarkListFiltered(b *testing.B) {
	s, _ := open(b, kv.NewMem(), Options{})
	for i := range DefaultMaxEntries {
		if err := s.Add(Letter{Time: t0, Topic: fmt.Sprintf("devices/%d/telemetry", i%10), Payload: []byte("{")}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if l, _, err := s.List(Filter{Topic: "devices/3/+"}); err != nil || len(l) != DefaultLimit {
			b.Fatal(len(l), err)
		}
	}
}
