package registry

import (
	"fmt"
	"maps"
	"time"
	"unicode/utf8"
)

// SetStatus applies an explicit status (last will or status payload). An
// offline status wins until the device's next message; an online status
// counts as a message at time at.
func (r *Registry) SetStatus(id string, online bool, at time.Time) {
	now := r.now().UnixMilli()
	d, created := r.create(id, now)
	var evs []Event
	if created {
		evs = append(evs, Event{Type: EventNew, Device: id, At: time.UnixMilli(now)})
	}
	d.mu.Lock()
	if online {
		d.explicit = 1
		d.lastSeen = max(d.lastSeen, min(at.UnixMilli(), now))
	} else {
		d.explicit = -1
	}
	d.dirty = true
	evs = d.transition(r.isOnline(d, false, now), now, evs)
	rec := d.record()
	d.mu.Unlock()
	if created {
		if err := r.put(rec); err != nil {
			r.log.Error("registry: persist device", "device", id, "err", err)
		}
	}
	r.emit(evs)
}

// ClientConnected is called by the broker when a client connects.
func (r *Registry) ClientConnected(clientID string) {
	r.mu.Lock()
	delete(r.down, clientID)
	r.mu.Unlock()
	r.recompute(clientID)
}

// ClientDisconnected is called by the broker when a client's connection ends;
// the devices it last published for go offline.
func (r *Registry) ClientDisconnected(clientID string) {
	r.mu.Lock()
	r.down[clientID] = true
	r.mu.Unlock()
	r.recompute(clientID)
}

// Tick applies the last-seen timeout. Call it every few seconds.
func (r *Registry) Tick() { r.recompute("") }

// recompute re-evaluates the devices of one client, or all when clientID is "".
func (r *Registry) recompute(clientID string) {
	now := r.now().UnixMilli()
	var evs []Event
	r.mu.RLock()
	for _, d := range r.devices {
		d.mu.Lock()
		if clientID == "" || d.clientID == clientID {
			evs = d.transition(r.isOnline(d, r.down[d.clientID], now), now, evs)
		}
		d.mu.Unlock()
	}
	r.mu.RUnlock()
	r.emit(evs)
}

// Limits on metadata edited over the API.
const (
	MaxMetaEntries = 64
	MaxMetaValue   = 1024
	maxText        = 256
)

// Patch is a metadata update; nil fields are left unchanged. Meta, when
// present, replaces the whole map ({} clears it).
type Patch struct {
	Name *string           `json:"name,omitempty"`
	Type *string           `json:"type,omitempty"`
	Meta map[string]string `json:"meta,omitempty"`
}

// Validate reports why a patch cannot be applied, wrapping ErrInvalid.
func (p Patch) Validate() error {
	for field, v := range map[string]*string{"name": p.Name, "type": p.Type} {
		if v != nil && (len(*v) > maxText || !utf8.ValidString(*v)) {
			return fmt.Errorf("%w: %s must be valid UTF-8 of at most %d bytes", ErrInvalid, field, maxText)
		}
	}
	if len(p.Meta) > MaxMetaEntries {
		return fmt.Errorf("%w: meta has more than %d entries", ErrInvalid, MaxMetaEntries)
	}
	for k, v := range p.Meta {
		if k == "" || len(k) > maxText || len(v) > MaxMetaValue || !utf8.ValidString(k+v) {
			return fmt.Errorf("%w: meta %q: keys 1..%d bytes, values up to %d bytes, UTF-8", ErrInvalid, k, maxText, MaxMetaValue)
		}
	}
	return nil
}

// Update edits a device's metadata and persists it before returning.
func (r *Registry) Update(id string, p Patch) (Device, error) {
	if err := p.Validate(); err != nil {
		return Device{}, err
	}
	r.mu.RLock()
	d, closed := r.devices[id], r.closed
	r.mu.RUnlock()
	if closed {
		return Device{}, ErrClosed
	}
	if d == nil {
		return Device{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	d.mu.Lock()
	if p.Name != nil {
		d.name = *p.Name
	}
	if p.Type != nil {
		d.typ = *p.Type
	}
	if p.Meta != nil {
		d.meta = maps.Clone(p.Meta)
	}
	rec := d.record()
	d.dirty = false
	d.mu.Unlock()
	if err := r.put(rec); err != nil {
		return Device{}, err
	}
	return d.snapshot(), nil
}
