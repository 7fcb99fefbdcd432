package gateway

import (
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Heartbeat defaults.
const DefaultHeartbeatInterval = time.Minute

// Event is a presence transition of a gateway.
type Event struct {
	Gateway  string
	Online   bool
	At       time.Time // when the transition was noticed
	LastSeen time.Time // last communication from the gateway
}

// Presence is what the tracker knows of one gateway.
type Presence struct {
	Gateway  string    `json:"gateway"`
	Online   bool      `json:"online"`
	LastSeen time.Time `json:"last_seen,omitzero"` // zero: never heard from
}

// HeartbeatOptions configures Heartbeats. Zero values are usable.
type HeartbeatOptions struct {
	// Interval between two heartbeats the platform sends to each gateway
	// (default 1m).
	Interval time.Duration
	// Validity is how long a gateway may stay silent and still be online
	// (default 3 x Interval).
	Validity time.Duration
	// Send publishes payload on the gateway's down topic; nil sends nothing.
	Send func(gw string, payload []byte) error
	// OnChange receives every transition, outside the tracker's lock, in
	// order per gateway; it must not block for long.
	OnChange func(Event)
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default slog.Default()
	Binary   bool             // send heartbeats in the binary form
}

// Heartbeats tracks which gateways are online. Anything received from a
// gateway (Seen) makes it online and updates its last communication time;
// one silent for longer than Validity goes offline. The owner calls Tick
// periodically (every second is plenty): it sends the heartbeats that are
// due and notices silences. Safe for concurrent use.
type Heartbeats struct {
	opt    HeartbeatOptions
	emitMu sync.Mutex // held across a transition and its OnChange, so events stay in order

	mu       sync.Mutex // guards the following
	gws      map[string]*Presence
	lastSent time.Time // last heartbeat round
}

// NewHeartbeats returns a tracker with no gateways.
func NewHeartbeats(opt HeartbeatOptions) *Heartbeats {
	if opt.Interval <= 0 {
		opt.Interval = DefaultHeartbeatInterval
	}
	if opt.Validity <= 0 {
		opt.Validity = 3 * opt.Interval
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Heartbeats{opt: opt, gws: map[string]*Presence{}}
}

// Add makes gw known (offline until heard from) so it gets heartbeats;
// the node adds the gateways of its registry at start.
func (h *Heartbeats) Add(gw string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.gws[gw]; !ok {
		h.gws[gw] = &Presence{Gateway: gw}
	}
}

// Remove forgets gw.
func (h *Heartbeats) Remove(gw string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.gws, gw)
}

// Seen records a message from gw (a heartbeat answer or anything else).
func (h *Heartbeats) Seen(gw string) {
	// Every envelope of an online gateway lands here: only a transition
	// needs emitMu, which orders it against Tick's.
	h.mu.Lock()
	if p, ok := h.gws[gw]; ok && p.Online {
		p.LastSeen = h.opt.Now()
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	h.emitMu.Lock()
	defer h.emitMu.Unlock()
	now := h.opt.Now()
	h.mu.Lock()
	p, ok := h.gws[gw]
	if !ok {
		p = &Presence{Gateway: gw}
		h.gws[gw] = p
	}
	p.LastSeen = now
	changed := !p.Online
	p.Online = true
	h.mu.Unlock()
	if changed {
		h.emit(Event{Gateway: gw, Online: true, At: now, LastSeen: now})
	}
}

// Tick sends a heartbeat to every known gateway when Interval has passed
// since the last round, and takes offline the gateways silent for longer
// than Validity.
func (h *Heartbeats) Tick() {
	h.emitMu.Lock()
	now := h.opt.Now()
	var events []Event
	var targets []string
	h.mu.Lock()
	for gw, p := range h.gws {
		if p.Online && now.Sub(p.LastSeen) > h.opt.Validity {
			p.Online = false
			events = append(events, Event{Gateway: gw, Online: false, At: now, LastSeen: p.LastSeen})
		}
	}
	if h.lastSent.IsZero() || now.Sub(h.lastSent) >= h.opt.Interval {
		h.lastSent = now
		for gw := range h.gws {
			targets = append(targets, gw)
		}
	}
	h.mu.Unlock()
	sort.Slice(events, func(i, j int) bool { return events[i].Gateway < events[j].Gateway })
	for _, e := range events {
		h.emit(e)
	}
	h.emitMu.Unlock()
	h.sendAll(targets, now)
}

func (h *Heartbeats) sendAll(targets []string, now time.Time) {
	if h.opt.Send == nil || len(targets) == 0 {
		return
	}
	sort.Strings(targets)
	ms := now.UnixMilli()
	payload := Encode(Envelope{Type: TypeHeartbeat, ID: "hb-" + strconv.FormatInt(ms, 10), Time: ms}, h.opt.Binary)
	for _, gw := range targets {
		if err := h.opt.Send(gw, payload); err != nil {
			h.opt.Logger.Warn("heartbeat: send", "gateway", gw, "err", err)
		}
	}
}

func (h *Heartbeats) emit(e Event) {
	h.opt.Logger.Info("gateway presence", "gateway", e.Gateway, "online", e.Online, "last_seen", e.LastSeen)
	if h.opt.OnChange != nil {
		h.opt.OnChange(e)
	}
}

// Get returns the presence of gw.
func (h *Heartbeats) Get(gw string) (Presence, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.gws[gw]
	if !ok {
		return Presence{}, false
	}
	return *p, true
}

// List returns the presence of every known gateway, by id.
func (h *Heartbeats) List() []Presence {
	h.mu.Lock()
	out := make([]Presence, 0, len(h.gws))
	for _, p := range h.gws {
		out = append(out, *p)
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Gateway < out[j].Gateway })
	return out
}
