package store

import (
	"errors"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Sentinel errors returned by the store.
var (
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("store: closed")
	// ErrBadQuery is returned for a query that cannot be answered as asked:
	// From >= To, Step < 0, a bad Limit, an aggregation that does not
	// apply to the series kind, or value bits of a string series
	// (RawStream.EachBits).
	ErrBadQuery = errors.New("store: bad query")
	// ErrKindConflict rejects a reading whose kind differs from its series'.
	ErrKindConflict = errors.New("store: kind conflict")
	// ErrInvalidReading rejects a reading that fails point.Reading.Validate.
	ErrInvalidReading = errors.New("store: invalid reading")
	// ErrCorrupt is returned when stored bytes cannot be decoded.
	ErrCorrupt = errors.New("store: corrupt data")
)

// FsyncPolicy says when appended data reaches stable storage.
type FsyncPolicy int

const (
	// FsyncInterval writes the write-ahead log to the OS on every commit, so
	// a killed process loses nothing, and fsyncs it every FsyncInterval, so
	// power loss loses at most that much.
	FsyncInterval FsyncPolicy = iota
	// FsyncAlways fsyncs every group commit before Append returns.
	FsyncAlways
)

// Options configure a DB. The zero value of every field means the default
// that DefaultOptions shows.
type Options struct {
	// Fsync is the durability policy; zero is FsyncInterval.
	Fsync FsyncPolicy
	// FsyncInterval is how often the WAL is fsynced under FsyncInterval;
	// zero means 1s.
	FsyncInterval time.Duration
	// Retention: raw blocks whose window ended before now-Retention are
	// deleted. Zero keeps raw data forever.
	Retention time.Duration
	// RollupRetention does the same for rollups. Zero keeps them forever.
	RollupRetention time.Duration
	// CacheSize is the Pebble block cache in bytes; zero means 16 MiB.
	CacheSize int64
	// CheckpointInterval is how often heads are sealed, the WAL truncated,
	// closed windows compacted and retention applied; zero means 1 minute.
	CheckpointInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the store's and Pebble's logs; nil means slog.Default.
	Logger *slog.Logger

	// fs replaces the OS filesystem in tests (vfs.NewCrashableMem).
	fs vfs.FS
}

// DefaultOptions returns Options with every default filled in.
func DefaultOptions() Options {
	o := Options{}
	o.fillDefaults()
	return o
}

func (o *Options) fillDefaults() {
	if o.FsyncInterval <= 0 {
		o.FsyncInterval = time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 16 << 20
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Tunables of the engine that callers do not need to change.
const (
	blockWindow      = Tier1h // blocks never cross a multiple of this (ms)
	maxHeadPoints    = 120    // a head is sealed when it holds this many points (16 B each in memory)
	walCheckpoint    = 32 << 20
	compactPerTick   = 256  // (series, window) groups merged per background tick
	recomputePerTick = 4096 // dirty rollup buckets recomputed per checkpoint
)
