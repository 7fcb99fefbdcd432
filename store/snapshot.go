package store

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Snapshot writes a consistent point-in-time copy of the store into dir,
// which must not exist; its parent should be on the store's filesystem so
// that sstables are hard links rather than copies. The store keeps serving
// appends and queries meanwhile.
//
// Everything the store needs to reopen in the same state is in Pebble: the
// heads are rebuilt from the WAL records (`w` keys), and the open rollup
// buckets, the only state kept in memory alone, are recomputed because
// recovery marks the buckets of replayed points dirty. So the copy is a
// crash image of the running store, taken after every Append that returned
// before Snapshot was called, and Open recovers it like one. Heads are not
// sealed first: that would only write small blocks for compaction to merge.
func (db *DB) Snapshot(dir string) error {
	if db.closed() {
		return ErrClosed
	}
	db.mu.RLock()
	err := db.err
	db.mu.RUnlock()
	if err != nil {
		return err
	}
	// WithFlushedWAL writes out batches committed without sync (publish,
	// seals) so that the copied WAL ends at this call, not at the last
	// synced commit.
	if err := db.pdb.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}
