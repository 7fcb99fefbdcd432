package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/edgevault/edgevault/point"
)

// keyTail holds the position a tail consumer confirmed (8 BE): WAL records
// above it are kept even once their points are in blocks.
var keyTail = []byte("xtail")

// TailFunc receives the points of one group commit, in commit order, once
// they are durable. rs is reused after the call returns: copy what you keep.
// It runs on the committer goroutine, so it must be quick and must not
// call Append.
type TailFunc func(seq uint64, rs []point.Reading)

// Tail makes the store a source for one consumer (the uplink), like a
// replication slot: every WAL record above the consumer's confirmed position
// is kept until the consumer confirms it (Confirm), so nothing the store
// acknowledged can be missed by the consumer, not even after kill -9.
//
// Tail first calls fn for each WAL record above the confirmed position (the
// points the consumer had not made durable on its side when the process
// stopped), then for every later group commit. The first Tail on a store
// starts at its current position: history already stored is not replayed.
// Tail must be called before the first Append, and at most once.
func (db *DB) Tail(fn TailFunc) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.tail != nil {
		return errors.New("store: tail already set")
	}
	if !db.tailOn {
		if err := db.pdb.Set(keyTail, binary.BigEndian.AppendUint64(nil, db.seq), pebble.Sync); err != nil {
			return fmt.Errorf("tail position: %w", err)
		}
		db.tailOn, db.tailPos = true, db.seq
	}
	pos := db.tailPos
	var buf []point.Reading
	err := db.scan([]byte{pfxWAL}, func(k, v []byte) error {
		seq := binary.BigEndian.Uint64(k[1:])
		if seq <= pos {
			return nil
		}
		pts, err := decodeWAL(v)
		if err != nil {
			return fmt.Errorf("tail wal %d: %w", seq, err)
		}
		buf = buf[:0]
		for _, p := range pts {
			s := db.byID[p.sid]
			if s == nil {
				return fmt.Errorf("tail wal %d: unknown series %d: %w", seq, p.sid, ErrCorrupt)
			}
			buf = append(buf, s.reading(p.t, p.v))
		}
		fn(seq, buf)
		return nil
	})
	if err != nil {
		return err
	}
	db.tail, db.tailPos = fn, pos
	return nil
}

// DropTail forgets the tail consumer's position, like dropping a
// replication slot: WAL records it kept go at the next checkpoint. It
// reports how many group commits the consumer had not confirmed.
func (db *DB) DropTail() (unconfirmed int, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.tailOn {
		return 0, nil
	}
	err = db.scan([]byte{pfxWAL}, func(k, _ []byte) error {
		if binary.BigEndian.Uint64(k[1:]) > db.tailPos {
			unconfirmed++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("drop tail: %w", err)
	}
	if err := db.pdb.Delete(keyTail, pebble.Sync); err != nil {
		return 0, fmt.Errorf("drop tail: %w", err)
	}
	db.tailOn, db.tail = false, nil
	return unconfirmed, nil
}

// Confirm tells the store that the tail consumer has made every group
// commit up to seq durable on its side; their WAL records may go at the
// next checkpoint. The position never moves back.
func (db *DB) Confirm(seq uint64) error {
	db.tailMu.Lock()
	defer db.tailMu.Unlock()
	db.mu.RLock()
	cur, on, err := db.tailPos, db.tailOn, db.err
	db.mu.RUnlock()
	if err != nil {
		return err
	}
	if seq <= cur || !on {
		return nil
	}
	if err := db.pdb.Set(keyTail, binary.BigEndian.AppendUint64(nil, seq), pebble.Sync); err != nil {
		return fmt.Errorf("confirm tail: %w", err)
	}
	db.mu.Lock()
	db.tailPos = seq
	db.mu.Unlock()
	return nil
}

// feedTail hands a committed group to the tail consumer. It runs on the
// committer goroutine, so commits reach the consumer in seq order.
func (db *DB) feedTail(st staged) {
	if db.tail == nil {
		return
	}
	db.tailBuf = db.tailBuf[:0]
	for i, p := range st.pts {
		db.tailBuf = append(db.tailBuf, st.ss[i].reading(p.t, p.v))
	}
	db.tail(st.seq, db.tailBuf)
}

// reading rebuilds a point of s as a reading; the names are parsed from
// the series key once and kept.
func (s *series) reading(t int64, v point.Value) point.Reading {
	if s.names == nil {
		d, m, tags, err := point.ParseSeriesKey(s.key)
		if err != nil { // keys are built by AppendSeriesKey; cannot happen
			d, m = s.key, ""
		}
		s.names = &point.Reading{Device: d, Metric: m, Tags: tags}
	}
	return point.Reading{Device: s.names.Device, Metric: s.names.Metric, Tags: s.names.Tags, Time: t, Value: v}
}
