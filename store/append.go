package store

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/edgevault/edgevault/point"
)

// AppendResult reports what an Append stored.
type AppendResult struct {
	Stored   int         // readings written
	Rejected []Rejection // readings refused; the others were still stored
}

// Rejection is one refused reading of an Append batch.
type Rejection struct {
	Index int // index in the slice given to Append
	Err   error
}

type appendReq struct {
	rs   []point.Reading
	res  AppendResult
	err  error
	done chan struct{}
}

// Append stores readings. When it returns without error the stored ones are
// durable per the fsync policy. Invalid readings and kind conflicts are
// reported in AppendResult.Rejected and do not fail the batch; an I/O error
// fails the whole call and none of it is acknowledged.
func (db *DB) Append(readings []point.Reading) (AppendResult, error) {
	return db.AppendAsync(readings).Wait()
}

// Pending is an Append in progress.
type Pending struct{ r *appendReq }

// Wait blocks until the readings are durable (or failed) and returns what
// Append would have.
func (p Pending) Wait() (AppendResult, error) {
	<-p.r.done
	return p.r.res, p.r.err
}

// Completed returns a Pending that is already done with res and err (for an
// Append refused before it reached the queue, and for fakes in tests).
func Completed(res AppendResult, err error) Pending {
	r := &appendReq{res: res, err: err, done: make(chan struct{})}
	close(r.done)
	return Pending{r}
}

// AppendAsync queues readings for the next group commit and returns at once;
// Wait on the result gives what Append returns. Readings queued by one
// goroutine are committed in the order it queued them. The caller must not
// change readings until Wait returns.
func (db *DB) AppendAsync(readings []point.Reading) Pending {
	db.qmu.Lock()
	if db.qclosed.Load() {
		db.qmu.Unlock()
		return Completed(AppendResult{}, ErrClosed)
	}
	r := &appendReq{rs: readings, done: make(chan struct{})}
	db.queue = append(db.queue, r)
	db.qcond.Signal()
	db.qmu.Unlock()
	return Pending{r}
}

// committer group-commits everything queued since its last commit.
func (db *DB) committer() {
	defer db.wg.Done()
	for {
		db.qmu.Lock()
		for len(db.queue) == 0 && !db.qclosed.Load() {
			db.qcond.Wait()
		}
		reqs := db.queue
		db.queue = nil
		db.qmu.Unlock()
		if len(reqs) == 0 {
			return
		}
		db.commitGroup(reqs)
	}
}

func (db *DB) commitGroup(reqs []*appendReq) {
	defer func() {
		for _, r := range reqs {
			close(r.done)
		}
	}()
	b := db.pdb.NewBatch()
	defer b.Close()
	db.mu.Lock()
	if db.err != nil {
		db.mu.Unlock()
		failAll(reqs, db.err)
		return
	}
	st, err := db.stage(b, reqs)
	defer db.recycle(st) // after publish and feedTail, which read st
	if err != nil {
		db.err = fmt.Errorf("store: stage failed, reopen needed: %w", err)
	}
	if err != nil || len(st.pts) == 0 {
		db.mu.Unlock()
		failAll(reqs, err)
		return
	}
	db.mu.Unlock()
	err = b.Commit(pebble.Sync)
	db.mu.Lock()
	db.inflight = 0
	if err != nil {
		db.err = fmt.Errorf("store: commit failed, reopen needed: %w", err)
	} else {
		db.publish(st)
	}
	big := db.walBytes > walCheckpoint
	db.mu.Unlock()
	if err != nil {
		failAll(reqs, fmt.Errorf("append: %w", err))
		return
	}
	db.feedTail(st)
	if big {
		select {
		case db.kick <- struct{}{}:
		default:
		}
	}
}

// recycle keeps a group's staging buffers for the next one, unless they
// grew outsized, cleared so they hold no strings or series alive.
func (db *DB) recycle(st staged) {
	if cap(st.pts) > maxStageKeep {
		return
	}
	clear(st.pts)
	clear(st.ss)
	db.stagePts, db.stageSS = st.pts[:0], st.ss[:0]
}

func failAll(reqs []*appendReq, err error) {
	if err == nil {
		return
	}
	for _, r := range reqs {
		r.res, r.err = AppendResult{}, err
	}
}

// maxStageKeep is the largest group (in points) whose staging buffers the
// committer keeps for the next one.
const maxStageKeep = 1 << 18

// staged is a group's points, written to the WAL and not yet applied. Its
// slices are the committer's buffers: valid until the next group.
type staged struct {
	pts []walPoint
	ss  []*series // series of each point
	seq uint64    // WAL record seq
}

// stage resolves series, validates the readings, and writes the WAL record
// and new series into b. Callers hold db.mu.
func (db *DB) stage(b *pebble.Batch, reqs []*appendReq) (staged, error) {
	st := staged{pts: db.stagePts[:0], ss: db.stageSS[:0]}
	for _, r := range reqs {
		for i := range r.rs {
			rd := &r.rs[i]
			s, v, err := db.admit(b, rd)
			if err != nil {
				r.res.Rejected = append(r.res.Rejected, Rejection{Index: i, Err: err})
				continue
			}
			st.pts = append(st.pts, walPoint{sid: s.id, t: rd.Time, v: v})
			st.ss = append(st.ss, s)
			r.res.Stored++
		}
	}
	if len(st.pts) == 0 {
		return st, nil
	}
	st.seq = db.allocSeq(b)
	rec := encodeWAL(db.walBuf[:0], st.pts)
	if cap(rec) <= maxStageKeep*16 {
		db.walBuf = rec // b.Set copies it
	}
	db.walBytes += int64(len(rec))
	db.inflight = st.seq
	return st, b.Set(walKey(st.seq), rec, nil)
}

// admit validates a reading and returns its series (created in b if new)
// and its value converted to the series kind.
func (db *DB) admit(b *pebble.Batch, rd *point.Reading) (*series, point.Value, error) {
	// A known series had its names validated when it was created, so the
	// common case costs one map lookup and no allocation.
	db.keyBuf = point.AppendSeriesKey(db.keyBuf[:0], rd.Device, rd.Metric, rd.Tags)
	s := db.byKey[string(db.keyBuf)]
	switch {
	case s != nil && !rd.Value.Valid():
		return nil, point.Value{}, fmt.Errorf("%w: invalid value", ErrInvalidReading)
	case s == nil:
		if err := rd.Validate(); err != nil {
			return nil, point.Value{}, fmt.Errorf("%w: %w", ErrInvalidReading, err)
		}
		key := string(db.keyBuf)
		s = &series{id: db.nextSID, key: key, kind: rd.Value.Kind()}
		db.nextSID++
		db.addSeries(s)
		v := binary.BigEndian.AppendUint64(nil, s.id)
		b.Set(append([]byte{pfxSeries}, key...), append(v, byte(s.kind)), nil)
		b.Set(seriesIDKey(s.id), append([]byte{byte(s.kind)}, key...), nil)
	}
	v := rd.Value
	if v.Kind() != s.kind {
		if s.kind != point.KindFloat || v.Kind() != point.KindInt {
			return nil, v, fmt.Errorf("%w: series %s/%s is %s, reading is %s",
				ErrKindConflict, rd.Device, rd.Metric, s.kind, v.Kind())
		}
		v = point.Float(float64(v.Int()))
	}
	return s, v, nil
}

func (db *DB) addSeries(s *series) {
	db.byKey[s.key] = s
	db.byID[s.id] = s
	s.head.sorted = true
}

// publish applies a committed group to heads and rollups, under db.mu, so
// that queries see a group only once it is durable. Closed rollup buckets,
// dirty markers and the blocks of heads that reached maxHeadPoints go in a
// batch without sync: until a checkpoint removes the WAL record, recovery
// rebuilds all of them from it.
func (db *DB) publish(st staged) {
	b := db.pdb.NewBatch()
	defer b.Close()
	var full []*series
	for i, p := range st.pts {
		if s := st.ss[i]; db.apply(b, s, p.t, p.v, st.seq) {
			full = append(full, s)
		}
	}
	for _, s := range full {
		if err := db.seal(b, s); err != nil {
			db.log.Error("seal", "series", s.id, "err", err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		db.err = fmt.Errorf("store: publish failed, reopen needed: %w", err)
	}
}

// apply adds one committed point to the head and rollups of s and reports
// whether the head just became full.
func (db *DB) apply(b *pebble.Batch, s *series, t int64, v point.Value, walSeq uint64) bool {
	inOrder := !s.hasData || t > s.maxT
	for ti := range tiers {
		db.rollupAdd(b, s, ti, t, v, inOrder)
	}
	if !s.hasData {
		s.hasData, s.minT, s.maxT = true, t, t
	}
	s.minT, s.maxT = min(s.minT, t), max(s.maxT, t)
	s.head.add(t, v, walSeq)
	return s.head.len() == maxHeadPoints
}

// rollupAdd keeps the open bucket of tier ti up to date for an in-order
// point and marks the bucket dirty for any other.
func (db *DB) rollupAdd(b *pebble.Batch, s *series, ti int, t int64, v point.Value, inOrder bool) {
	start := floorTo(t, tiers[ti])
	ob := &s.roll[ti]
	if !inOrder {
		if ob.ok && ob.start == start {
			ob.dirty = true
		} else {
			db.markDirty(b, bucketRef{ti, s.id, start})
		}
		return
	}
	if ob.ok && ob.start != start {
		db.closeBucket(b, s, ti)
	}
	if !ob.ok {
		// Points of this bucket stored before it was opened (before a
		// restart, or before a time-based close) are not in the aggregate.
		*ob = openBucket{ok: true, start: start, dirty: s.hasData && s.maxT >= start}
	}
	ob.a.add(t, v)
}

// closeBucket persists the open bucket of tier ti, or marks it for
// recomputation if it is dirty.
func (db *DB) closeBucket(b *pebble.Batch, s *series, ti int) {
	ob := &s.roll[ti]
	ref := bucketRef{ti, s.id, ob.start}
	if ob.dirty {
		db.markDirty(b, ref)
	} else {
		b.Set(bucketKey(pfxRollup, ti, s.id, ob.start), encodeAgg(nil, &ob.a), nil)
	}
	*ob = openBucket{}
}

func (db *DB) markDirty(b *pebble.Batch, ref bucketRef) {
	if _, ok := db.dirty[ref]; ok {
		return
	}
	db.dirty[ref] = struct{}{}
	b.Set(bucketKey(pfxDirty, ref.tier, ref.sid, ref.bucket), nil, nil)
}
