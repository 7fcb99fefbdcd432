package gateway

import (
	"sync"
	"testing"
	"time"
)

type eventLog struct {
	mu     sync.Mutex // guards events
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) take() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

func TestHeartbeatsPresence(t *testing.T) {
	clk, out, log := newClock(), &outbox{}, &eventLog{}
	h := NewHeartbeats(HeartbeatOptions{Interval: time.Minute, Now: clk.Now, Send: out.send, OnChange: log.add, Logger: quiet})
	h.Add("hub1")
	h.Add("hub2")
	start := clk.Now()

	steps := []struct {
		name       string
		advance    time.Duration
		seen       string // a message from this gateway before the tick
		wantEvents []Event
		wantSends  int // heartbeats sent so far
	}{
		{name: "first tick sends to all, nobody online yet", wantSends: 2},
		{name: "hub1 answers", advance: 10 * time.Second, seen: "hub1", wantSends: 2,
			wantEvents: []Event{{Gateway: "hub1", Online: true, At: start.Add(10 * time.Second), LastSeen: start.Add(10 * time.Second)}}},
		{name: "interval passed: second round", advance: 50 * time.Second, wantSends: 4},
		{name: "silent exactly the validity: still online", advance: 130 * time.Second, wantSends: 6},
		{name: "silent longer: offline", advance: time.Second, wantSends: 6,
			wantEvents: []Event{{Gateway: "hub1", Online: false, At: start.Add(191 * time.Second), LastSeen: start.Add(10 * time.Second)}}},
		{name: "still silent: no repeated event", advance: 10 * time.Second, wantSends: 6},
		{name: "back online", advance: time.Second, seen: "hub1", wantSends: 6,
			wantEvents: []Event{{Gateway: "hub1", Online: true, At: start.Add(202 * time.Second), LastSeen: start.Add(202 * time.Second)}}},
		{name: "anything from an unknown gateway makes it known and online", seen: "hub3", wantSends: 6,
			wantEvents: []Event{{Gateway: "hub3", Online: true, At: start.Add(202 * time.Second), LastSeen: start.Add(202 * time.Second)}}},
	}
	for _, s := range steps {
		clk.Add(s.advance)
		if s.seen != "" {
			h.Seen(s.seen)
		}
		h.Tick()
		got := log.take()
		if len(got) != len(s.wantEvents) {
			t.Fatalf("%s: events %+v, want %+v", s.name, got, s.wantEvents)
		}
		for i := range got {
			g, w := got[i], s.wantEvents[i]
			if g.Gateway != w.Gateway || g.Online != w.Online || !g.At.Equal(w.At) || !g.LastSeen.Equal(w.LastSeen) {
				t.Fatalf("%s: event %+v, want %+v", s.name, g, w)
			}
		}
		if n := out.count(); n != s.wantSends {
			t.Fatalf("%s: %d heartbeats sent, want %d", s.name, n, s.wantSends)
		}
	}
	if p, ok := h.Get("hub1"); !ok || !p.Online || !p.LastSeen.Equal(start.Add(202*time.Second)) {
		t.Fatalf("Get(hub1) = %+v, %v", p, ok)
	}
	list := h.List()
	if len(list) != 3 || list[1].Gateway != "hub2" || list[1].Online || !list[1].LastSeen.IsZero() {
		t.Fatalf("List = %+v", list)
	}
	for _, m := range out.sent {
		if m.env.Type != TypeHeartbeat || m.env.Time == 0 {
			t.Fatalf("sent %+v", m)
		}
	}
	h.Remove("hub2")
	if _, ok := h.Get("hub2"); ok {
		t.Fatal("hub2 still known after Remove")
	}
}

func TestHeartbeatsDefaults(t *testing.T) {
	h := NewHeartbeats(HeartbeatOptions{Logger: quiet})
	if h.opt.Interval != time.Minute || h.opt.Validity != 3*time.Minute {
		t.Fatalf("defaults: %v, %v", h.opt.Interval, h.opt.Validity)
	}
	h.Seen("a")
	h.Tick() // no Send: nothing to do but must not fail
}
