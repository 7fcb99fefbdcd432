package store

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store/chunk"
)

// checkpoint seals the heads holding points from WAL records older than the
// previous checkpoint (all heads if all is set), persists rollup buckets
// whose time has passed, recomputes dirty rollups, and deletes the WAL
// records whose points are now all in blocks, in one synced batch.
func (db *DB) checkpoint(all bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.err != nil {
		return db.err
	}
	if err := db.sealOld(all); err != nil {
		return err
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	limit := recomputePerTick
	if all {
		limit = 0
	}
	if err := db.recomputeDirty(b, limit); err != nil {
		return err
	}
	cut := db.seq + 1
	for _, s := range db.byID {
		if s.head.len() > 0 {
			cut = min(cut, s.head.minWAL)
		}
	}
	if db.inflight != 0 {
		cut = min(cut, db.inflight)
	}
	if db.tailOn {
		cut = min(cut, db.tailPos+1)
	}
	if err := b.DeleteRange(walKey(0), walKey(cut), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.Sync); err != nil {
		db.err = fmt.Errorf("store: checkpoint failed, reopen needed: %w", err)
		return db.err
	}
	db.lastCkpt, db.walBytes = db.seq, 0
	return nil
}

// sealOld is the first step of a checkpoint: seal old heads, persist
// buckets whose time has passed. Callers hold db.mu.
func (db *DB) sealOld(all bool) error {
	b := db.pdb.NewBatch()
	defer b.Close()
	now := db.opts.Now().UnixMilli()
	for _, s := range db.byID {
		if s.head.len() > 0 && (all || s.head.minWAL <= db.lastCkpt) {
			if err := db.seal(b, s); err != nil {
				return err
			}
		}
		for ti, w := range tiers {
			if ob := &s.roll[ti]; ob.ok && (all || ob.start+w <= now) {
				db.closeBucket(b, s, ti)
			}
		}
	}
	// Recomputing dirty rollups reads committed blocks: the seals land first.
	if err := b.Commit(pebble.NoSync); err != nil {
		db.err = fmt.Errorf("store: checkpoint failed, reopen needed: %w", err)
		return db.err
	}
	return nil
}

// recomputeDirty rebuilds up to limit (0: all) dirty rollup buckets that
// are not open from raw points. Callers hold db.mu.
func (db *DB) recomputeDirty(b *pebble.Batch, limit int) error {
	done := 0
	for ref := range db.dirty {
		if limit > 0 && done >= limit {
			return nil
		}
		done++
		s := db.byID[ref.sid]
		if s == nil {
			delete(db.dirty, ref)
			b.Delete(bucketKey(pfxDirty, ref.tier, ref.sid, ref.bucket), nil)
			continue
		}
		if ob := &s.roll[ref.tier]; ob.ok && ob.start == ref.bucket {
			continue // still open; it is marked again when it closes
		}
		pts, err := db.rawRange(context.Background(), s, ref.bucket, ref.bucket+tiers[ref.tier])
		if err != nil {
			return err
		}
		key := bucketKey(pfxRollup, ref.tier, ref.sid, ref.bucket)
		if len(pts) == 0 {
			b.Delete(key, nil)
		} else {
			var a agg
			for _, p := range pts {
				a.add(p.T, p.V)
			}
			b.Set(key, encodeAgg(nil, &a), nil)
		}
		b.Delete(bucketKey(pfxDirty, ref.tier, ref.sid, ref.bucket), nil)
		delete(db.dirty, ref)
	}
	return nil
}

// Compact seals every head, merges the blocks of every (series, window)
// that has more than one, recomputes dirty rollups and asks Pebble to
// compact the whole key space.
func (db *DB) Compact(ctx context.Context) error {
	if db.closed() {
		return ErrClosed
	}
	if err := db.checkpoint(true); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := db.compactWindows(ctx, 0, true); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := db.pdb.Flush(); err != nil {
		return fmt.Errorf("compact: flush: %w", err)
	}
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, false); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	return nil
}

// compactWindows merges the blocks of up to limit (series, window) groups
// (0: no limit) holding more than one block. Unless all is set, only windows
// that ended before now are merged, and only those that got a new block
// since the last pass: after Open (when that is unknown) and for all, the
// candidates come from a scan of every block key.
func (db *DB) compactWindows(ctx context.Context, limit int, all bool) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.err != nil {
		return db.err
	}
	closedBefore := floorTo(db.opts.Now().UnixMilli(), blockWindow)
	eligible := func(w int64) bool { return all || w < closedBefore }
	var groups []windowRef
	if all || db.scanAll {
		var err error
		if groups, err = db.multiBlockWindows(limit, eligible); err != nil {
			return err
		}
		db.scanAll = !all && len(groups) >= limit
	} else {
		for ref := range db.touched {
			if eligible(ref.window) && len(groups) < limit {
				groups = append(groups, ref)
			}
		}
	}
	b := db.pdb.NewBatch()
	defer b.Close()
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := db.mergeWindow(b, g); err != nil {
			return err
		}
		delete(db.touched, g)
	}
	if b.Empty() {
		return nil
	}
	return b.Commit(pebble.NoSync)
}

// windowRef names the blocks of one series in one window.
type windowRef struct {
	sid    uint64
	window int64
}

func (db *DB) multiBlockWindows(limit int, eligible func(int64) bool) ([]windowRef, error) {
	var out []windowRef
	var cur windowRef
	n := 0
	flush := func() {
		if n > 1 && eligible(cur.window) {
			out = append(out, cur)
		}
	}
	err := db.scan([]byte{pfxBlock}, func(k, _ []byte) error {
		sid, w, _, ok := parseBlockKey(k)
		if !ok {
			return fmt.Errorf("block key %x: %w", k, ErrCorrupt)
		}
		if n > 0 && sid == cur.sid && w == cur.window {
			n++
			return nil
		}
		flush()
		cur, n = windowRef{sid, w}, 1
		if limit > 0 && len(out) >= limit {
			return errStop
		}
		return nil
	})
	if err == errStop {
		return out, nil
	}
	flush()
	return out, err
}

var errStop = fmt.Errorf("stop")

// mergeWindow replaces the blocks of one window, if more than one, by one
// block, keeping for each timestamp the value of the block with the highest
// seq. The merged block takes that highest seq.
func (db *DB) mergeWindow(b *pebble.Batch, g windowRef) error {
	s := db.byID[g.sid]
	if s == nil {
		return nil
	}
	var pts []Sample
	var ts []int64
	var vals []point.Value
	var blocks int
	var maxSeq uint64
	err := db.scan(blockKey(g.sid, g.window, 0)[:17], func(k, v []byte) error {
		_, _, maxSeq, _ = parseBlockKey(k)
		blocks++
		var err error
		if _, ts, vals, err = chunk.Decode(v, ts[:0], vals[:0]); err != nil {
			return fmt.Errorf("series %d window %d: %w", g.sid, g.window, err)
		}
		for i, t := range ts {
			pts = append(pts, Sample{T: t, V: vals[i]})
		}
		return nil
	})
	if err != nil || blocks < 2 {
		return err
	}
	pts = normalize(pts)
	b.DeleteRange(blockKey(g.sid, g.window, 0), blockKey(g.sid, g.window, maxSeq), nil)
	ts, vals = ts[:0], vals[:0]
	for _, p := range pts {
		ts, vals = append(ts, p.T), append(vals, p.V)
	}
	enc, err := chunk.Encode(nil, s.kind, ts, vals)
	if err != nil {
		return fmt.Errorf("merge series %d: %w", g.sid, err)
	}
	return b.Set(blockKey(g.sid, g.window, maxSeq), enc, nil)
}

// applyRetention deletes blocks of windows that ended before now-Retention
// and rollup buckets that ended before now-RollupRetention.
func (db *DB) applyRetention() error {
	if db.opts.Retention <= 0 && db.opts.RollupRetention <= 0 {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.err != nil {
		return db.err
	}
	now := db.opts.Now().UnixMilli()
	b := db.pdb.NewBatch()
	defer b.Close()
	for _, s := range db.byID {
		if r := db.opts.Retention.Milliseconds(); r > 0 {
			// Windows are aligned: those starting before floor(now-r) have ended.
			end := floorTo(now-r, blockWindow)
			b.DeleteRange(blockKey(s.id, minTime, 0), blockKey(s.id, end, 0), nil)
		}
		if r := db.opts.RollupRetention.Milliseconds(); r > 0 {
			for ti := range tiers {
				db.dropBuckets(b, ti, s.id, now-r)
			}
		}
	}
	return b.Commit(pebble.NoSync)
}

// dropBuckets deletes the rollups and dirty markers of the tier-ti buckets
// of sid that ended at or before end.
func (db *DB) dropBuckets(b *pebble.Batch, ti int, sid uint64, end int64) {
	last := end - tiers[ti] + 1
	for _, p := range []byte{pfxRollup, pfxDirty} {
		b.DeleteRange(bucketKey(p, ti, sid, minTime), bucketKey(p, ti, sid, last), nil)
	}
	for ref := range db.dirty {
		if ref.sid == sid && ref.tier == ti && ref.bucket < last {
			delete(db.dirty, ref)
		}
	}
}
