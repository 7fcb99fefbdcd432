// Package store is edgevault's embedded time-series engine on Pebble.
//
// Readings are group-committed to a write-ahead record inside Pebble, kept
// per series in an in-memory head, sealed into compressed blocks (package
// store/chunk) that never cross an aligned one-hour window, merged per
// series and window by background compaction, and summarised into 1-minute
// and 1-hour rollups kept up to date as data arrives. Retention deletes old
// blocks and rollups with range tombstones.
//
// The on-disk layout, the write-ahead record encoding, recovery, checkpoint
// and compaction rules and the fsync policy are described in FORMAT.md.
package store
