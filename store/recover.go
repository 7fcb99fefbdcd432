package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store/chunk"
)

// recover loads the series index, the dirty rollup set and the sequence
// counter, then replays the WAL records left by the last checkpoint into
// heads. Every bucket a replayed point touches is marked dirty: its open
// aggregate was lost with the process.
func (db *DB) recover() error {
	db.nextSID = 1
	if v, closer, err := db.pdb.Get(keySeq); err == nil {
		db.seq = binary.BigEndian.Uint64(v)
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read seq: %w", err)
	}
	if v, closer, err := db.pdb.Get(keyTail); err == nil {
		ok := len(v) == 8
		if ok {
			db.tailOn, db.tailPos = true, binary.BigEndian.Uint64(v)
		}
		closer.Close()
		if !ok {
			return fmt.Errorf("tail position: %w", ErrCorrupt)
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read tail position: %w", err)
	}
	if err := db.loadSeries(); err != nil {
		return err
	}
	err := db.scan([]byte{pfxDirty}, func(k, _ []byte) error {
		ti, sid, bucket, ok := parseBucketKey(k)
		if !ok {
			return fmt.Errorf("dirty key %x: %w", k, ErrCorrupt)
		}
		db.dirty[bucketRef{ti, sid, bucket}] = struct{}{}
		return nil
	})
	if err != nil {
		return err
	}
	return db.replayWAL()
}

func (db *DB) loadSeries() error {
	err := db.scan([]byte{pfxSeriesID}, func(k, v []byte) error {
		if len(k) != 9 || len(v) < 1 {
			return fmt.Errorf("series key %x: %w", k, ErrCorrupt)
		}
		s := &series{id: binary.BigEndian.Uint64(k[1:]), kind: point.Kind(v[0]), key: string(v[1:])}
		db.addSeries(s)
		db.nextSID = max(db.nextSID, s.id+1)
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range db.byID {
		if err := db.loadBounds(s); err != nil {
			return err
		}
	}
	return nil
}

// loadBounds reads the time range of the stored blocks of s from the
// headers of its first and last block.
func (db *DB) loadBounds(s *series) error {
	it, err := db.pdb.NewIter(&pebble.IterOptions{
		LowerBound: blockKey(s.id, minTime, 0),
		UpperBound: blockKey(s.id+1, minTime, 0),
	})
	if err != nil {
		return err
	}
	defer it.Close()
	if !it.First() {
		return it.Error()
	}
	_, _, lo, _, err := chunk.Header(it.Value())
	if err != nil {
		return fmt.Errorf("series %d: block header: %w", s.id, err)
	}
	it.Last()
	_, _, _, hi, err := chunk.Header(it.Value())
	if err != nil {
		return fmt.Errorf("series %d: block header: %w", s.id, err)
	}
	s.hasData, s.minT, s.maxT = true, lo, hi
	return it.Error()
}

// minTime is the smallest timestamp; block keys of a series start there.
const minTime = -1 << 63

func (db *DB) replayWAL() error {
	b := db.pdb.NewBatch()
	defer b.Close()
	n := 0
	err := db.scan([]byte{pfxWAL}, func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("wal key %x: %w", k, ErrCorrupt)
		}
		seq := binary.BigEndian.Uint64(k[1:])
		pts, err := decodeWAL(v)
		if err != nil {
			return fmt.Errorf("wal %d: %w", seq, err)
		}
		for _, p := range pts {
			s := db.byID[p.sid]
			if s == nil {
				return fmt.Errorf("wal %d: unknown series %d: %w", seq, p.sid, ErrCorrupt)
			}
			db.replayPoint(b, s, p, seq)
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n > 0 {
		db.log.Info("recovered points from wal", "points", n)
	}
	return b.Commit(pebble.Sync)
}

func (db *DB) replayPoint(b *pebble.Batch, s *series, p walPoint, seq uint64) {
	for ti, w := range tiers {
		db.markDirty(b, bucketRef{ti, s.id, floorTo(p.t, w)})
	}
	if !s.hasData {
		s.hasData, s.minT, s.maxT = true, p.t, p.t
	}
	s.minT, s.maxT = min(s.minT, p.t), max(s.maxT, p.t)
	s.head.add(p.t, p.v, seq)
}

// scan calls fn for every key with the prefix, in order.
func (db *DB) scan(prefix []byte, fn func(k, v []byte) error) error {
	it, err := db.pdb.NewIter(prefixBounds(prefix))
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return errors.Join(it.Error(), it.Close())
}

func prefixBounds(prefix []byte) *pebble.IterOptions {
	return &pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)}
}

// prefixEnd returns the smallest key greater than every key with the prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
