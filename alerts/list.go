package alerts

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/edgevault/edgevault/rules"
)

// entry is the in-memory index of one record: what List filters on.
type entry struct {
	id        uint64
	rule      string
	device    string
	severity  rules.Severity
	state     rules.AlertState
	triggered int64 // Unix ms
}

func (h *History) entryOf(a *Alert) entry {
	return entry{
		id: a.ID, rule: h.internString(a.Rule), device: h.internString(a.Device),
		severity: rules.Severity(h.internString(string(a.Severity))), state: a.State,
		triggered: a.TriggeredAt.UnixMilli(),
	}
}

func (h *History) internString(s string) string {
	if v, ok := h.intern[s]; ok {
		return v
	}
	h.intern[s] = s
	return s
}

// find returns the index position of id.
func (h *History) find(id uint64) (int, bool) {
	i := sort.Search(len(h.index), func(i int) bool { return h.index[i].id >= id })
	return i, i < len(h.index) && h.index[i].id == id
}

// StateActive in Filter.State matches every alert that is not resolved.
const StateActive = "active"

// DefaultLimit and MaxLimit bound one page of List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects alerts for List. Zero fields match everything; set fields
// must all match.
type Filter struct {
	Rule     string
	Device   string
	Severity string    // info, warning, critical
	State    string    // triggered, acknowledged, resolved, or active (not resolved)
	From, To time.Time // triggered at or after From, before To
	Before   uint64    // only ids below it: the cursor List returned
	Limit    int       // zero means DefaultLimit; capped at MaxLimit
}

func (f *Filter) check() error {
	switch rules.Severity(f.Severity) {
	case "", rules.SeverityInfo, rules.SeverityWarning, rules.SeverityCritical:
	default:
		return fmt.Errorf("%w: severity %q", ErrBadFilter, f.Severity)
	}
	switch rules.AlertState(f.State) {
	case "", StateActive, rules.AlertTriggered, rules.AlertAcknowledged, rules.AlertResolved:
	default:
		return fmt.Errorf("%w: state %q", ErrBadFilter, f.State)
	}
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	f.Limit = min(f.Limit, MaxLimit)
	return nil
}

func (f *Filter) match(e *entry) bool {
	switch {
	case f.Rule != "" && e.rule != f.Rule,
		f.Device != "" && e.device != f.Device,
		f.Severity != "" && string(e.severity) != f.Severity,
		f.State == StateActive && e.state == rules.AlertResolved,
		f.State != "" && f.State != StateActive && string(e.state) != f.State,
		!f.From.IsZero() && e.triggered < f.From.UnixMilli(),
		!f.To.IsZero() && e.triggered >= f.To.UnixMilli():
		return false
	}
	return true
}

// List returns the alerts matching f, newest first, and the cursor of the
// next page (pass it as Filter.Before), zero when there is none.
func (h *History) List(f Filter) ([]Alert, uint64, error) {
	if err := f.check(); err != nil {
		return nil, 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	end := len(h.index)
	if f.Before > 0 {
		end, _ = h.find(f.Before)
	}
	ids := make([]uint64, 0, min(f.Limit, 64))
	var next uint64
	for i := end - 1; i >= 0; i-- {
		e := &h.index[i]
		if !f.match(e) {
			continue
		}
		if len(ids) == f.Limit {
			next = ids[len(ids)-1]
			break
		}
		ids = append(ids, e.id)
	}
	out := make([]Alert, 0, len(ids))
	for _, id := range ids {
		a, err := h.getLocked(id)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, a)
	}
	return out, next, nil
}

// Len returns the number of records in the history.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.index)
}

// evictLocked deletes records beyond MaxEntries, plus 1 % of the bound so
// eviction runs once per many records: the oldest resolved first, then the
// oldest open ones.
func (h *History) evictLocked() {
	over := len(h.index) - h.opts.MaxEntries
	if over <= 0 {
		return
	}
	n := over + h.opts.MaxEntries/100
	victims := make(map[uint64]bool, n)
	for pass := 0; pass < 2 && len(victims) < n; pass++ {
		for i := range h.index {
			e := &h.index[i]
			if len(victims) == n {
				break
			}
			if (pass == 1 || e.state == rules.AlertResolved) && !victims[e.id] {
				victims[e.id] = true
			}
		}
	}
	h.index = slices.DeleteFunc(h.index, func(e entry) bool {
		if !victims[e.id] {
			return false
		}
		if err := h.store.Delete(recordKey(e.id)); err != nil {
			h.log.Warn("alert history: evict", "id", e.id, "err", err)
			return false
		}
		h.evicted.Inc()
		return true
	})
	for lc, id := range h.latest {
		if victims[id] {
			if _, ok := h.find(id); !ok {
				delete(h.latest, lc)
			}
		}
	}
}
