package edge

import (
	"testing"
	"time"
)

func TestLastSeenThrottle(t *testing.T) {
	q := &lastSeenThrottle{sent: map[string]sentDevice{}}
	t0 := time.Unix(1_800_000_000, 0)
	dev := func(name string, lastSeen int) []byte {
		return []byte(`{"id":"d1","name":"` + name + `","first_seen":1,"last_seen":` + string(rune('0'+lastSeen)) + `}`)
	}
	steps := []struct {
		name  string
		key   string
		value []byte
		at    time.Time
		skip  bool
	}{
		{"first put is sent", "registry/dev/d1", dev("a", 1), t0, false},
		{"only last_seen moved: kept home", "registry/dev/d1", dev("a", 2), t0.Add(time.Minute), true},
		{"a real change is sent", "registry/dev/d1", dev("b", 3), t0.Add(2 * time.Minute), false},
		{"last_seen refreshed after the interval", "registry/dev/d1", dev("b", 4), t0.Add(13 * time.Minute), false},
		{"another key is independent", "registry/dev/d2", dev("b", 4), t0.Add(13 * time.Minute), false},
		{"not JSON is always sent", "rules/x", []byte{0xff}, t0, false},
		{"not JSON again", "rules/x", []byte{0xff}, t0, false},
	}
	for _, st := range steps {
		if got := q.skip(st.key, st.value, st.at); got != st.skip {
			t.Fatalf("%s: skip = %v, want %v", st.name, got, st.skip)
		}
	}
	q.forget("registry/dev/d1") // deleted: the next put is news
	if q.skip("registry/dev/d1", dev("b", 5), t0.Add(14*time.Minute)) {
		t.Fatal("put after a delete kept home")
	}
}
