package uplink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

// The store feeds the outbox through its tail (store.DB.Tail): every group
// commit's points, in commit order, once they are durable locally. The
// outbox confirms a commit (Options.Confirm, store.DB.Confirm) only once
// every point of it is in a persisted batch, so the store keeps the WAL
// record until then and hands it over again after a crash. A crash between
// persisting a batch and confirming sends those points twice; the cloud keeps
// one value per series and timestamp, so they are stored once.

// highSet is the set of series whose readings go at high priority (routing
// rules with uplink_priority: high). Reads are lock-free in the common case
// where it is empty.
type highSet struct {
	mu  sync.RWMutex // guards m
	m   map[string]struct{}
	buf []byte // scratch for lookups; used only by the tail feed goroutine
}

// MarkHigh sends the readings of this series at high priority from now on.
func (o *Outbox) MarkHigh(device, metric string, tags []point.Tag) {
	k := point.SeriesKey(device, metric, tags)
	o.high.mu.RLock()
	_, ok := o.high.m[k]
	o.high.mu.RUnlock()
	if ok {
		return
	}
	o.high.mu.Lock()
	if o.high.m == nil {
		o.high.m = map[string]struct{}{}
	}
	o.high.m[k] = struct{}{}
	o.high.mu.Unlock()
}

// Observe takes the points of one durable group commit (store.TailFunc).
// It only copies them into the pending batches; cutting, sealing and
// writing happen on the outbox's goroutines, off the commit path.
func (o *Outbox) Observe(seq uint64, rs []point.Reading) {
	o.high.mu.RLock()
	anyHigh := len(o.high.m) > 0
	o.high.mu.RUnlock()
	o.mu.Lock()
	bulk := o.pendingFor(pendKey{batch.KindTelemetry, PriorityBulk}, seq)
	if !anyHigh {
		bulk.add(rs, nil)
	} else {
		for i := range rs {
			pb := bulk
			if o.isHigh(&rs[i]) {
				pb = o.pendingFor(pendKey{batch.KindTelemetry, PriorityHigh}, seq)
			}
			pb.add(rs[i:i+1], nil)
		}
	}
	o.walSeen = seq
	due := o.dueLocked()
	o.mu.Unlock()
	if due {
		select {
		case o.cutDue <- struct{}{}:
		default:
		}
	}
}

func (o *Outbox) isHigh(r *point.Reading) bool {
	o.high.buf = point.AppendSeriesKey(o.high.buf[:0], r.Device, r.Metric, r.Tags)
	o.high.mu.RLock()
	_, ok := o.high.m[string(o.high.buf)]
	o.high.mu.RUnlock()
	return ok
}

// pendingFor returns the pending batch of k, noting WAL seq in it. Callers
// hold o.mu.
func (o *Outbox) pendingFor(k pendKey, seq uint64) *pending {
	pb := o.pending[k]
	if pb == nil {
		pb = &pending{readings: make([]point.Reading, 0, o.lastCut[k])}
		o.pending[k] = pb
	}
	if pb.minWAL == 0 {
		pb.minWAL = seq
	}
	return pb
}

// dueLocked reports whether some pending batch is full.
func (o *Outbox) dueLocked() bool {
	for _, pb := range o.pending {
		if o.isFull(pb) {
			return true
		}
	}
	return false
}

func (o *Outbox) isFull(pb *pending) bool {
	return pb.count() >= o.cfg.BatchPoints || pb.bytes >= o.cfg.BatchBytes
}

// Admit reports whether new readings may be accepted: ErrBacklogFull when
// the disk budget is reached under the block policy (the broker then does
// not acknowledge the publish, so the device keeps it and retries).
func (o *Outbox) Admit() error {
	if o.backlog.Load() < o.cfg.DiskBudgetBytes {
		return nil // the common case: no lock on the ingest path
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fullLocked(PriorityBulk) {
		o.st.blocked++
		o.met.blocked.Inc()
		return ErrBacklogFull
	}
	return nil
}

// confirmWAL tells the store which commits are wholly in persisted batches:
// everything seen, except what is still pending or failed to persist.
// Called by cut, under cutMu, after its batches are persisted.
func (o *Outbox) confirmWAL() {
	if o.confirm == nil {
		return
	}
	o.mu.Lock()
	pos := o.walSeen
	for _, pb := range o.pending {
		if pb.minWAL != 0 {
			pos = min(pos, pb.minWAL-1)
		}
	}
	if o.walFailed != 0 {
		pos = min(pos, o.walFailed-1)
	}
	confirmed := o.walConfirmed
	o.mu.Unlock()
	if pos <= confirmed {
		return
	}
	if err := o.confirm(pos); err != nil {
		o.log.Error("confirm uplink position", "seq", pos, "err", err)
		return
	}
	o.mu.Lock()
	o.walConfirmed = pos
	o.mu.Unlock()
}

// cutLoop cuts full pending batches as soon as the tail feed fills one.
func (o *Outbox) cutLoop(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-o.cutDue:
			if err := o.cut(func(_ pendKey, pb *pending) bool { return o.isFull(pb) }); err != nil {
				o.log.Error("cut", "err", err)
			}
		}
	}
}

// EnqueueNow enqueues records like Enqueue and persists the pending batch
// of that kind and priority at once (alerts, commands: few, and wanted in
// the cloud before the next flush tick).
func (o *Outbox) EnqueueNow(kind string, p Priority, records [][]byte) error {
	if err := o.Enqueue(kind, p, nil, records); err != nil {
		return err
	}
	k := pendKey{kind, p}
	return o.cut(func(q pendKey, _ *pending) bool { return q == k })
}

// RestoreJump is how far a restored outbox's sequence numbers move ahead
// (SkipRestored): an edge sends far fewer batches between a backup and its
// restore, so no number the cloud may have acknowledged is used again.
const RestoreJump = 1 << 32

// SetNextSeq makes an outbox stored in s (the view Open gets) number its
// batches from next on, or later if it already would. A node rebuilt from
// the cloud uses it to go past the highest sequence the cloud acknowledged:
// the cloud answers a sequence it already has as a duplicate and drops it.
func SetNextSeq(s kv.Store, next uint64) error {
	v, err := s.Get(keyNext)
	if err == nil && len(v) == 8 && binary.BigEndian.Uint64(v) >= next {
		return nil
	}
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return fmt.Errorf("outbox position: %w", err)
	}
	return s.Put(keyNext, binary.BigEndian.AppendUint64(nil, next))
}

// SkipRestored moves the sequence numbers of an outbox restored from a
// backup RestoreJump ahead, since the edge may have sent batches after the
// backup under the numbers it holds. A store without an outbox is left as
// it is.
func SkipRestored(s kv.Store) error {
	v, err := s.Get(keyNext)
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil || len(v) != 8 {
		return fmt.Errorf("outbox position: %w", errors.Join(err, ErrCorrupt))
	}
	return s.Put(keyNext, binary.BigEndian.AppendUint64(nil, binary.BigEndian.Uint64(v)+RestoreJump))
}
