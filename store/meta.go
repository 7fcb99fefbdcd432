package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/edgevault/edgevault/kv"
)

// Meta returns a durable key-value store under its own key prefix, for the
// registry, dead letters and other metadata. Writes are synced like appends.
func (db *DB) Meta() kv.Store { return metaStore{db} }

type metaStore struct{ db *DB }

func metaKey(k []byte) []byte { return append([]byte{pfxMeta}, k...) }

func (m metaStore) Get(key []byte) ([]byte, error) {
	if m.db.closed() {
		return nil, ErrClosed
	}
	v, closer, err := m.db.pdb.Get(metaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, kv.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("meta get: %w", err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

func (m metaStore) Put(key, value []byte) error {
	if m.db.closed() {
		return ErrClosed
	}
	if err := m.db.pdb.Set(metaKey(key), value, pebble.Sync); err != nil {
		return fmt.Errorf("meta put: %w", err)
	}
	return nil
}

func (m metaStore) Delete(key []byte) error {
	if m.db.closed() {
		return ErrClosed
	}
	if err := m.db.pdb.Delete(metaKey(key), pebble.Sync); err != nil {
		return fmt.Errorf("meta delete: %w", err)
	}
	return nil
}

func (m metaStore) Scan(prefix []byte, fn func(key, value []byte) error) error {
	if m.db.closed() {
		return ErrClosed
	}
	return m.db.scan(metaKey(prefix), func(k, v []byte) error { return fn(k[1:], v) })
}

// closed reports whether Close has started.
func (db *DB) closed() bool { return db.qclosed.Load() }

// PutMetaLazy writes a Meta() value without waiting for the disk: it is
// durable once a later synced write or the fsync ticker carries it, and
// lost on a crash before that. For state that is safe to lose, such as the
// cloud's acknowledged-sequence sets (a forgotten sequence makes the edge
// resend a batch that the store takes again without change).
func (db *DB) PutMetaLazy(key, value []byte) error {
	if db.closed() {
		return ErrClosed
	}
	if err := db.pdb.Set(metaKey(key), value, pebble.NoSync); err != nil {
		return fmt.Errorf("meta put: %w", err)
	}
	return nil
}
