package pgstore

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/jackc/pgx/v5"

	"github.com/edgevault/edgevault/kv"
)

// Meta returns the key-value store kept in edgevault.meta. Writes are
// committed when they return.
func (db *DB) Meta() kv.Store { return metaStore{db} }

type metaStore struct{ db *DB }

func (m metaStore) Get(key []byte) ([]byte, error) {
	if err := m.db.check(); err != nil {
		return nil, err
	}
	ctx, cancel := m.db.opCtx()
	defer cancel()
	var v []byte
	err := m.db.pool.QueryRow(ctx, "SELECT value FROM edgevault.meta WHERE key = $1", key).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, kv.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("meta get: %w", err)
	}
	return v, nil
}

const sqlPut = `INSERT INTO edgevault.meta (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`

func (m metaStore) Put(key, value []byte) error {
	if err := m.db.check(); err != nil {
		return err
	}
	ctx, cancel := m.db.opCtx()
	defer cancel()
	if _, err := m.db.pool.Exec(ctx, sqlPut, key, nonNil(value)); err != nil {
		return fmt.Errorf("meta put: %w", err)
	}
	return nil
}

func (m metaStore) Delete(key []byte) error {
	if err := m.db.check(); err != nil {
		return err
	}
	ctx, cancel := m.db.opCtx()
	defer cancel()
	if _, err := m.db.pool.Exec(ctx, "DELETE FROM edgevault.meta WHERE key = $1", key); err != nil {
		return fmt.Errorf("meta delete: %w", err)
	}
	return nil
}

// scanPage is how many rows Scan reads per query; fn runs between queries,
// so it may use the store itself without holding a connection.
var scanPage = 1000

// Scan walks the keys with the prefix in byte order (bytea compares like
// memcmp), a page at a time.
func (m metaStore) Scan(prefix []byte, fn func(key, value []byte) error) error {
	if err := m.db.check(); err != nil {
		return err
	}
	after, end := prefix, prefixEnd(prefix)
	incl := true
	for {
		keys, vals, err := m.page(after, incl, end)
		if err != nil {
			return fmt.Errorf("meta scan: %w", err)
		}
		for i := range keys {
			if err := fn(keys[i], vals[i]); err != nil {
				return err
			}
		}
		if len(keys) < scanPage {
			return nil
		}
		after, incl = keys[len(keys)-1], false
	}
}

// page reads the next keys from after (inclusive or not) up to end (nil:
// no bound).
func (m metaStore) page(after []byte, incl bool, end []byte) (keys, vals [][]byte, err error) {
	ctx, cancel := m.db.opCtx()
	defer cancel()
	op := ">"
	if incl {
		op = ">="
	}
	rows, err := m.db.pool.Query(ctx, "SELECT key, value FROM edgevault.meta WHERE key "+op+
		" $1 AND ($2::bytea IS NULL OR key < $2) ORDER BY key LIMIT $3", nonNil(after), end, scanPage)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, rows.Err()
}

// prefixEnd is the first key after every key with the prefix, or nil.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// UpdateMeta replaces the value of key with fn(old) atomically against
// every session of the database: a transaction holds an advisory lock on
// the key (a row lock cannot guard a key that has no row yet). old is nil
// when the key is missing. It lets several cloud processes update one
// edge's acknowledged set without losing each other's sequences.
func (db *DB) UpdateMeta(key []byte, fn func(old []byte) ([]byte, error)) error {
	if err := db.check(); err != nil {
		return err
	}
	ctx, cancel := db.opCtx()
	defer cancel()
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", lockMeta, keyHash(key)); err != nil {
			return err
		}
		var old []byte
		err := tx.QueryRow(ctx, "SELECT value FROM edgevault.meta WHERE key = $1", key).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		v, err := fn(old)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, sqlPut, key, nonNil(v))
		return err
	})
	if err != nil {
		return fmt.Errorf("meta update: %w", err)
	}
	return nil
}

func keyHash(key []byte) int32 {
	h := fnv.New32a()
	h.Write(key)
	return int32(h.Sum32())
}
