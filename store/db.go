package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/edgevault/edgevault/point"
)

// DB is an open store. All methods are safe for concurrent use.
type DB struct {
	opts Options
	log  *slog.Logger
	pdb  *pebble.DB
	ifs  *intervalFS // nil under FsyncAlways

	qmu   sync.Mutex // guards the following
	qcond *sync.Cond
	queue []*appendReq
	// qclosed is set under qmu (the committer waits on qcond for it and
	// for the queue) but read without it by the meta store: a meta write
	// (an alert recorded, a device learnt) does not wait behind the
	// appends of every connection for the queue's mutex.
	qclosed atomic.Bool

	mu       sync.RWMutex // guards the following
	byKey    map[string]*series
	keyBuf   []byte // scratch for series-key lookups in admit
	byID     map[uint64]*series
	nextSID  uint64
	seq      uint64                 // last allocated sequence number
	inflight uint64                 // WAL seq being committed outside mu, 0 if none
	dirty    map[bucketRef]struct{} // rollup buckets to recompute from raw
	lastCkpt uint64                 // seq at the previous checkpoint
	walBytes int64                  // WAL bytes written since the last checkpoint
	touched  map[windowRef]struct{} // windows that got a block since the last compaction pass
	scanAll  bool                   // the next compaction pass scans every block key
	err      error                  // sticky: an I/O error made the DB unusable
	tail     TailFunc               // the tail consumer (Tail), nil if none
	tailOn   bool                   // a tail position is stored (Tail, or found at Open)
	tailPos  uint64                 // WAL records above it are kept for the tail consumer

	tailMu  sync.Mutex      // serialises Confirm
	tailBuf []point.Reading // owned by the committer: readings handed to tail
	// Owned by the committer: the staged points of the group being
	// committed and its WAL record, reused from group to group (a group of
	// a thousand gateway reports is 100,000 points; growing these afresh
	// each time was a fifth of the node's allocations).
	stagePts []walPoint
	stageSS  []*series
	walBuf   []byte

	kick      chan struct{} // asks the maintenance loop for a checkpoint
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// bucketRef names one rollup bucket.
type bucketRef struct {
	tier   int
	sid    uint64
	bucket int64
}

// SeriesInfo describes one stored series.
type SeriesInfo struct {
	ID     uint64
	Device string
	Metric string
	Tags   []point.Tag
	Kind   point.Kind
	MinT   int64 // Unix ms of the oldest point stored; may predate retention (0 if none)
	MaxT   int64 // Unix ms of the newest point (0 if none)
}

// Open opens or creates the store in dir and recovers unsealed points from
// the write-ahead records.
func Open(dir string, opts Options) (*DB, error) {
	opts.fillDefaults()
	db := &DB{
		opts:    opts,
		log:     opts.Logger.With("component", "store"),
		byKey:   map[string]*series{},
		byID:    map[uint64]*series{},
		dirty:   map[bucketRef]struct{}{},
		touched: map[windowRef]struct{}{},
		scanAll: true,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}
	db.qcond = sync.NewCond(&db.qmu)
	fs := opts.fs
	if fs == nil {
		fs = vfs.Default
	}
	if opts.Fsync == FsyncInterval {
		db.ifs = newIntervalFS(fs)
		fs = db.ifs
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{FS: fs, Cache: cache, Logger: pebbleLogger{db.log}}
	// Chunks are already compressed; zstd on the bottom levels still saves
	// about a fifth on random-walk floats and costs little on a 2-core box.
	po.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionGood })
	pdb, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db.pdb = pdb
	if err := db.recover(); err != nil {
		pdb.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	db.wg.Add(2)
	go db.committer()
	go db.maintain()
	return db, nil
}

// Close stops accepting appends, commits those queued, seals every head,
// truncates the WAL and closes Pebble. It is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.qmu.Lock()
		db.qclosed.Store(true)
		db.qcond.Broadcast()
		db.qmu.Unlock()
		close(db.stop)
		db.wg.Wait()
		err := db.checkpoint(true)
		if db.ifs != nil {
			err = errors.Join(err, db.ifs.syncAll())
		}
		db.mu.Lock()
		db.err = ErrClosed
		db.mu.Unlock()
		db.closeErr = errors.Join(err, db.pdb.Close())
	})
	return db.closeErr
}

// maintain runs the periodic WAL fsync, checkpoint, compaction and retention.
func (db *DB) maintain() {
	defer db.wg.Done()
	fsync := time.NewTicker(db.opts.FsyncInterval)
	defer fsync.Stop()
	ckpt := time.NewTicker(db.opts.CheckpointInterval)
	defer ckpt.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-fsync.C:
			if db.ifs != nil {
				if err := db.ifs.syncAll(); err != nil {
					db.log.Error("wal fsync", "err", err)
				}
			}
		case <-db.kick:
			db.logErr("checkpoint", db.checkpoint(false))
		case <-ckpt.C:
			db.logErr("checkpoint", db.checkpoint(false))
			db.logErr("compact", db.compactWindows(context.Background(), compactPerTick, false))
			db.logErr("retention", db.applyRetention())
		}
	}
}

func (db *DB) logErr(what string, err error) {
	if err != nil && !errors.Is(err, ErrClosed) {
		db.log.Error(what, "err", err)
	}
}

// DiskUsage returns the bytes Pebble uses on disk.
// It counts obsolete files Pebble has not deleted yet and recycled WAL
// files, about 10-15 MB of overhead right after heavy writes. It returns 0
// after Close.
func (db *DB) DiskUsage() int64 {
	if db.closed() {
		return 0
	}
	return int64(db.pdb.Metrics().DiskSpaceUsage())
}

// Series lists every series, ordered by id.
func (db *DB) Series() []SeriesInfo {
	db.mu.RLock()
	defer db.mu.RUnlock()
	out := make([]SeriesInfo, 0, len(db.byID))
	for id := uint64(1); id < db.nextSID; id++ {
		s, ok := db.byID[id]
		if !ok {
			continue
		}
		dev, metric, tags, _ := point.ParseSeriesKey(s.key)
		info := SeriesInfo{ID: s.id, Device: dev, Metric: metric, Tags: tags, Kind: s.kind}
		if s.hasData {
			info.MinT, info.MaxT = s.minT, s.maxT
		}
		out = append(out, info)
	}
	return out
}

// allocSeq returns the next sequence number and records it in b. Callers hold mu.
func (db *DB) allocSeq(b *pebble.Batch) uint64 {
	db.seq++
	b.Set(keySeq, binary.BigEndian.AppendUint64(nil, db.seq), nil)
	return db.seq
}

// pebbleLogger sends Pebble's logs to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
