package registry

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/edgevault/edgevault/point"
)

// device is the in-memory state of one device.
type device struct {
	id string

	mu        sync.Mutex // guards the following
	name, typ string
	meta      map[string]string
	contract  string
	clientID  string
	firstSeen int64 // Unix ms
	lastSeen  int64 // Unix ms
	series    map[string]*series
	explicit  int8 // status from LWT/status payloads: 1 online, -1 offline, 0 none
	online    bool
	dirty     bool // lastSeen or a latest value changed since the last persist
}

type series struct {
	metric string
	tags   []point.Tag
	t      int64
	v      point.Value
}

// Observe records readings that are durable in the store. It is on the
// ingest hot path: no I/O unless a device or series is new, in which case the
// device record is persisted before Observe returns.
func (r *Registry) Observe(clientID string, readings []point.Reading, contract string) {
	now := r.now().UnixMilli()
	var buf [128]byte // series-key scratch; keeps Observe allocation-free for known series
	key := buf[:0]
	for i := 0; i < len(readings); {
		j := i + 1
		for j < len(readings) && readings[j].Device == readings[i].Device {
			j++
		}
		key = r.observeDevice(clientID, readings[i:j], contract, now, key)
		i = j
	}
}

func (r *Registry) observeDevice(clientID string, rs []point.Reading, contract string, now int64, key []byte) []byte {
	var evs []Event
	r.mu.RLock()
	d, down := r.devices[rs[0].Device], r.down[clientID]
	r.mu.RUnlock()
	persist := false
	if d == nil {
		if d, persist = r.create(rs[0].Device, now); persist {
			evs = append(evs, Event{Type: EventNew, Device: d.id, At: time.UnixMilli(now)})
		}
	}
	d.mu.Lock()
	d.lastSeen, d.clientID, d.explicit, d.dirty = now, clientID, 0, true
	if contract != "" && d.contract != contract {
		d.contract, persist = contract, true
	}
	for k := range rs {
		var isNew bool
		key, isNew = d.update(&rs[k], key)
		persist = persist || isNew
	}
	evs = d.transition(r.isOnline(d, down, now), now, evs)
	var rec record
	if persist {
		rec, d.dirty = d.record(), false
	}
	d.mu.Unlock()
	if persist {
		if err := r.put(rec); err != nil {
			r.log.Error("registry: persist new device or series", "device", rec.ID, "err", err)
			d.mu.Lock()
			d.dirty = true
			d.mu.Unlock()
		}
	}
	r.emit(evs)
	return key
}

func (r *Registry) create(id string, now int64) (*device, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.devices[id]; d != nil {
		return d, false
	}
	d := &device{id: id, firstSeen: now, series: map[string]*series{}}
	r.devices[id] = d
	return d, true
}

// update applies one reading; it reports whether the series is new. key is
// scratch space for the series key, so a known series costs no allocation.
func (d *device) update(rd *point.Reading, key []byte) ([]byte, bool) {
	key = appendSeriesKey(key[:0], rd.Metric, rd.Tags)
	s := d.series[string(key)]
	if s == nil {
		s = &series{metric: rd.Metric, tags: append([]point.Tag(nil), rd.Tags...), t: rd.Time, v: rd.Value}
		d.series[string(key)] = s
		return key, true
	}
	if rd.Time >= s.t { // a backfilled older reading is not the latest value
		s.t, s.v = rd.Time, rd.Value
	}
	return key, false
}

func appendSeriesKey(b []byte, metric string, tags []point.Tag) []byte {
	b = append(b, metric...)
	for _, t := range tags {
		b = append(b, 0)
		b = append(b, t.Key...)
		b = append(b, 1)
		b = append(b, t.Value...)
	}
	return b
}

// isOnline applies the presence rules; d.mu must be held. An explicit
// offline status wins until the next message; an explicit online status
// counts as a message from the device. Otherwise a device is online while
// the client that last published for it is not known to be disconnected and
// it was seen within OfflineAfter.
func (r *Registry) isOnline(d *device, clientDown bool, now int64) bool {
	switch {
	case d.explicit < 0:
		return false
	case d.lastSeen == 0:
		return false
	case clientDown && d.explicit == 0:
		return false
	}
	return now-d.lastSeen < r.offlineAfter
}

// transition records a new online state; d.mu must be held.
func (d *device) transition(online bool, now int64, evs []Event) []Event {
	if online == d.online {
		return evs
	}
	d.online = online
	t := EventOffline
	if online {
		t = EventOnline
	}
	return append(evs, Event{Type: t, Device: d.id, At: time.UnixMilli(now)})
}

func (d *device) snapshot() Device {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := Device{ID: d.id, Name: d.name, Type: d.typ, Meta: maps.Clone(d.meta), Contract: d.contract,
		ClientID: d.clientID, FirstSeen: time.UnixMilli(d.firstSeen).UTC(), Online: d.online,
		Series: make([]Series, 0, len(d.series))}
	if d.lastSeen != 0 {
		out.LastSeen = time.UnixMilli(d.lastSeen).UTC()
	}
	for _, s := range d.series {
		out.Series = append(out.Series, Series{Metric: s.metric, Tags: s.tags, Kind: s.v.Kind(), LastT: s.t, Last: s.v})
	}
	sortSeries(out.Series)
	return out
}

// record returns the persisted form; d.mu must be held.
func (d *device) record() record {
	rec := record{ID: d.id, Name: d.name, Type: d.typ, Meta: d.meta, Contract: d.contract,
		ClientID: d.clientID, FirstSeen: d.firstSeen, LastSeen: d.lastSeen,
		Series: make([]seriesRecord, 0, len(d.series))}
	for _, s := range d.series {
		num, str := encodeValue(s.v)
		rec.Series = append(rec.Series, seriesRecord{Metric: s.metric, Tags: s.tags, Kind: s.v.Kind(), T: s.t, Num: num, Str: str})
	}
	return rec
}

func loadDevice(b []byte) (*device, error) {
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	d := &device{id: rec.ID, name: rec.Name, typ: rec.Type, meta: rec.Meta, contract: rec.Contract,
		clientID: rec.ClientID, firstSeen: rec.FirstSeen, lastSeen: rec.LastSeen, series: map[string]*series{}}
	for _, s := range rec.Series {
		v, err := decodeValue(s.Kind, s.Num, s.Str)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Metric, err)
		}
		d.series[string(appendSeriesKey(nil, s.Metric, s.Tags))] = &series{metric: s.Metric, tags: s.Tags, t: s.T, v: v}
	}
	return d, nil
}
