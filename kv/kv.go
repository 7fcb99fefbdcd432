// Package kv is the small key-value interface that the registry, the
// dead-letter store and other metadata keepers persist through. The store
// engine provides the durable implementation on Pebble; Mem is the in-memory
// one that unit tests use.
package kv

import (
	"bytes"
	"errors"
	"sort"
	"sync"
)

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("kv: not found")

// Store is an ordered byte-key store. Writes are durable against a process
// crash when they return; keys and values passed to Scan's fn are only valid
// during the call.
type Store interface {
	Get(key []byte) ([]byte, error)
	Put(key, value []byte) error
	Delete(key []byte) error
	// Scan calls fn for every key with the prefix, in key order, and stops
	// at the first error fn returns.
	Scan(prefix []byte, fn func(key, value []byte) error) error
}

// Mem is an in-memory Store for tests.
type Mem struct {
	mu sync.Mutex // guards m
	m  map[string][]byte
}

// NewMem returns an empty in-memory store.
func NewMem() *Mem { return &Mem{m: map[string][]byte{}} }

func (s *Mem) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[string(key)]
	if !ok {
		return nil, ErrNotFound
	}
	return bytes.Clone(v), nil
}

func (s *Mem) Put(key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[string(key)] = bytes.Clone(value)
	return nil
}

func (s *Mem) Delete(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, string(key))
	return nil
}

func (s *Mem) Scan(prefix []byte, fn func(key, value []byte) error) error {
	s.mu.Lock()
	var keys []string
	for k := range s.m {
		if bytes.HasPrefix([]byte(k), prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = bytes.Clone(s.m[k])
	}
	s.mu.Unlock()
	for i, k := range keys {
		if err := fn([]byte(k), vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// WithPrefix returns a view of s in which every key is prefixed, so several
// keepers can share one store without seeing each other's keys.
func WithPrefix(s Store, prefix string) Store {
	return prefixed{s: s, p: []byte(prefix)}
}

type prefixed struct {
	s Store
	p []byte
}

func (x prefixed) key(k []byte) []byte {
	return append(append(make([]byte, 0, len(x.p)+len(k)), x.p...), k...)
}

func (x prefixed) Get(key []byte) ([]byte, error) { return x.s.Get(x.key(key)) }
func (x prefixed) Put(key, value []byte) error    { return x.s.Put(x.key(key), value) }
func (x prefixed) Delete(key []byte) error        { return x.s.Delete(x.key(key)) }
func (x prefixed) Scan(prefix []byte, fn func(key, value []byte) error) error {
	return x.s.Scan(x.key(prefix), func(k, v []byte) error { return fn(k[len(x.p):], v) })
}
