package uplink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

// Errors returned by the outbox.
var (
	// ErrBacklogFull means the disk budget is reached and the reading was
	// not accepted; the caller must treat it as not durable.
	ErrBacklogFull = errors.New("uplink: backlog full")
	// ErrCorrupt marks a stored record that does not decode.
	ErrCorrupt = errors.New("uplink: corrupt record")
	// ErrNotRejected is returned by Requeue and Discard for an unknown seq.
	ErrNotRejected = errors.New("uplink: no such rejected batch")
	// ErrPriority is returned for a priority other than bulk or high.
	ErrPriority = errors.New("uplink: unknown priority")
)

// Priority orders batches: high (alerts, events) before bulk telemetry.
type Priority uint8

const (
	PriorityBulk Priority = 0
	PriorityHigh Priority = 1
)

func (p Priority) String() string {
	switch p {
	case PriorityBulk:
		return "bulk"
	case PriorityHigh:
		return "high"
	}
	return "priority(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText writes "bulk" or "high", for the REST status.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Header describes a batch to the Sealer; it mirrors batch.Header.
type Header struct {
	EdgeID   string
	Seq      uint64
	Created  int64 // Unix ms
	Kind     string
	Priority uint8
	Count    int
}

// Sealer turns a batch into the request body (batch.Seal with the keys).
type Sealer func(h Header, readings []point.Reading, records [][]byte) ([]byte, error)

// Signer signs a request for the cloud (batch.SignRequest with the keys).
type Signer func(req *http.Request, body []byte, seq uint64, now time.Time) error

// Doer sends HTTP requests; *http.Client is one.
type Doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// Options are the injected dependencies. Zero values are usable: batch.Seal
// and batch.SignRequest with the configured keys, http.DefaultClient, the
// wall clock, slog.Default and no metrics.
type Options struct {
	Sealer     Sealer
	Signer     Signer
	Client     Doer
	Clock      Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Jitter returns a random duration in [0, d); default math/rand/v2.
	Jitter func(d time.Duration) time.Duration
	// Confirm, when set, is told the WAL position up to which every point
	// given to Observe is in a persisted batch (store.DB.Confirm).
	Confirm func(seq uint64) error
}

type pendKey struct {
	kind string
	prio Priority
}

type pending struct {
	readings []point.Reading
	records  [][]byte
	bytes    int
	oldest   int64
	minWAL   uint64 // smallest store WAL seq of its readings (Observe), 0 if none
}

func (p *pending) count() int { return len(p.readings) + len(p.records) }

// Outbox is the durable queue of batches to the cloud. Enqueue, Flush,
// Status, Requeue and Discard are safe for concurrent use; Run is called once.
type Outbox struct {
	cfg     Config
	kv      kv.Store
	seal    Sealer
	sign    Signer
	client  Doer
	clock   Clock
	log     *slog.Logger
	jitter  func(time.Duration) time.Duration
	met     metrics
	wake    chan struct{} // a batch was queued or requeued
	cutDue  chan struct{} // Observe filled a pending batch
	confirm func(uint64) error
	high    highSet

	cutMu    sync.Mutex // held while cutting, so seq order is persist order
	reserved uint64     // guarded by cutMu: seqs below it may be used

	mu       sync.Mutex // guards the following
	pending  map[pendKey]*pending
	cutting  map[*pending]struct{} // taken from pending, being sealed and written
	lastCut  map[pendKey]int       // readings in the last batch cut per key
	nextSeq  uint64
	queues   [2][]meta // by Priority, each in seq order
	rejected []meta
	// backlog is the bytes of queued records: changed under mu, read
	// without it by Admit on the ingest path.
	backlog  atomic.Int64
	inflight uint64
	st       state
	// Store WAL positions of the tail feed (Observe).
	walSeen, walConfirmed uint64
	walFailed             uint64 // smallest WAL seq in a batch that could not be persisted

	// Owned by the sender goroutine.
	fails      int // consecutive failed attempts
	cur        int // index of the URL in use
	highStreak int
	tokens     float64
	tokensAt   time.Time
	paced      uint64 // seq whose points were last taken from the bucket
}

// Open loads the queued and rejected batches from s and returns an outbox
// ready to Run. cfg is validated and its zero fields take the defaults.
func Open(cfg Config, s kv.Store, o Options) (*Outbox, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.URLs) == 0 {
		return nil, errors.New("open uplink: uplink.urls: none configured")
	}
	if err := o.withBatch(cfg); err != nil {
		return nil, fmt.Errorf("open uplink: %w", err)
	}
	ob := &Outbox{cfg: cfg.withDefaults(), kv: s, seal: o.Sealer, sign: o.Signer,
		client: o.Client, clock: o.Clock, log: o.Logger, jitter: o.Jitter,
		wake: make(chan struct{}, 1), cutDue: make(chan struct{}, 1), confirm: o.Confirm, pending: map[pendKey]*pending{}, cutting: map[*pending]struct{}{}, lastCut: map[pendKey]int{}}
	ob.fillDefaults()
	if err := ob.load(); err != nil {
		return nil, fmt.Errorf("open uplink: %w", err)
	}
	ob.st.urls = make([]URLStatus, len(ob.cfg.URLs))
	for i, u := range ob.cfg.URLs {
		ob.st.urls[i].URL = u
	}
	if err := ob.registerMetrics(o.Registerer); err != nil {
		return nil, fmt.Errorf("open uplink: %w", err)
	}
	return ob, nil
}

func (o *Outbox) fillDefaults() {
	if o.client == nil {
		o.client = http.DefaultClient
	}
	if o.clock == nil {
		o.clock = wallClock{}
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	o.log = o.log.With("component", "uplink")
	if o.jitter == nil {
		o.jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d)
		}
	}
}

// Keys of the store; see doc.go.
var keyNext = []byte("n")

func queueKey(p Priority, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{'q', byte(p)}, seq)
}

func rejectKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{'r'}, seq)
}

// load rebuilds the in-memory index from the store.
func (o *Outbox) load() error {
	v, err := o.kv.Get(keyNext)
	switch {
	case err == nil && len(v) == 8:
		o.nextSeq = binary.BigEndian.Uint64(v)
	case err == nil:
		return fmt.Errorf("next seq: %w", ErrCorrupt)
	case !errors.Is(err, kv.ErrNotFound):
		return fmt.Errorf("next seq: %w", err)
	}
	o.nextSeq = max(o.nextSeq, 1)
	defer func() { o.reserved = o.nextSeq }()
	scan := func(prefix string, add func(m meta)) error {
		return o.kv.Scan([]byte(prefix), func(k, v []byte) error {
			r, err := decodeRecord(v)
			if err != nil {
				// Left on disk for an operator; one bad record must not
				// stop the edge node from starting.
				o.st.corrupt++
				o.log.Error("skipping corrupt uplink record", "key", fmt.Sprintf("%x", k), "err", err)
				return nil
			}
			o.nextSeq = max(o.nextSeq, r.Seq+1)
			add(r.meta)
			return nil
		})
	}
	err = scan("q", func(m meta) {
		o.queues[m.Priority] = append(o.queues[m.Priority], m)
		o.backlog.Add(m.Size)
	})
	if err != nil {
		return err
	}
	return scan("r", func(m meta) { o.rejected = append(o.rejected, m) })
}

// Enqueue adds readings (and opaque records such as registry changes or
// alerts) of one kind to the pending batch of that kind and priority. The
// outbox keeps the slices; the caller must not modify them afterwards.
// ErrBacklogFull means nothing was accepted.
func (o *Outbox) Enqueue(kind string, p Priority, readings []point.Reading, records [][]byte) error {
	if p > PriorityHigh {
		return ErrPriority
	}
	if len(readings) == 0 && len(records) == 0 {
		return nil
	}
	o.mu.Lock()
	if o.fullLocked(p) {
		o.st.blocked++
		o.mu.Unlock()
		o.met.blocked.Inc()
		return ErrBacklogFull
	}
	k := pendKey{kind, p}
	pb := o.pending[k]
	if pb == nil {
		// Sized like the last batch of this key, so that steady ingest
		// appends without growing the slice.
		pb = &pending{readings: make([]point.Reading, 0, o.lastCut[k])}
		o.pending[k] = pb
	}
	pb.add(readings, records)
	full := pb.count() >= o.cfg.BatchPoints || pb.bytes >= o.cfg.BatchBytes
	o.mu.Unlock()
	if !full {
		return nil
	}
	return o.cut(func(q pendKey, pb *pending) bool {
		return q == k && (pb.count() >= o.cfg.BatchPoints || pb.bytes >= o.cfg.BatchBytes)
	})
}

func (pb *pending) add(readings []point.Reading, records [][]byte) {
	pb.readings = append(pb.readings, readings...)
	pb.records = append(pb.records, records...)
	for i := range readings {
		r := &readings[i]
		pb.bytes += 24 + len(r.Device) + len(r.Metric) + len(r.Value.Str())
		for _, t := range r.Tags {
			pb.bytes += 2 + len(t.Key) + len(t.Value)
		}
		if pb.oldest == 0 || r.Time < pb.oldest {
			pb.oldest = r.Time
		}
	}
	for _, rec := range records {
		pb.bytes += len(rec)
	}
}

// fullLocked reports whether an Enqueue at priority p must be refused.
func (o *Outbox) fullLocked(p Priority) bool {
	if o.backlog.Load() < o.cfg.DiskBudgetBytes {
		return false
	}
	if o.cfg.WhenFull == WhenFullBlock {
		return true
	}
	// drop_oldest makes room by dropping bulk batches; without any, refuse.
	return !o.hasDroppableLocked()
}

func (o *Outbox) hasDroppableLocked() bool {
	for _, m := range o.queues[PriorityBulk] {
		if m.Seq != o.inflight {
			return true
		}
	}
	return false
}

// Flush cuts and persists every pending batch now.
func (o *Outbox) Flush() error {
	return o.cut(func(pendKey, *pending) bool { return true })
}

// cut persists, in key order, the pending batches that want says are due.
func (o *Outbox) cut(want func(pendKey, *pending) bool) error {
	o.cutMu.Lock()
	defer o.cutMu.Unlock()
	type job struct {
		k   pendKey
		pb  *pending
		seq uint64
	}
	var jobs []job
	o.mu.Lock()
	for k, pb := range o.pending {
		if want(k, pb) {
			delete(o.pending, k)
			o.lastCut[k] = min(len(pb.readings), o.cfg.BatchPoints)
			for _, piece := range o.split(pb) {
				jobs = append(jobs, job{k: k, pb: piece})
				o.cutting[piece] = struct{}{}
			}
		}
	}
	// Stable: the pieces of one pending batch keep their order (a later
	// write of a series and timestamp must stay in a later batch).
	slices.SortStableFunc(jobs, func(a, b job) int {
		if a.k.prio != b.k.prio {
			return int(b.k.prio) - int(a.k.prio)
		}
		return strings.Compare(a.k.kind, b.k.kind)
	})
	for i := range jobs {
		jobs[i].seq = o.nextSeq
		o.nextSeq++
	}
	next := o.nextSeq
	o.mu.Unlock()
	if len(jobs) == 0 {
		return nil
	}
	if err := o.reserve(next); err != nil {
		o.met.persistErrors.Add(float64(len(jobs)))
		for _, j := range jobs {
			o.persistFailed(j.pb)
		}
		o.log.Error("batches lost from uplink", "batches", len(jobs), "err", err)
		return err
	}
	var errs []error
	for _, j := range jobs {
		if err := o.persist(j.k, j.pb, j.seq); err != nil {
			o.met.persistErrors.Inc()
			o.persistFailed(j.pb)
			o.log.Error("batch lost from uplink", "seq", j.seq, "kind", j.k.kind,
				"points", j.pb.count(), "err", err)
			errs = append(errs, err)
		}
	}
	o.confirmWAL()
	return errors.Join(errs...)
}

// split cuts a pending batch into batches of at most BatchPoints readings:
// one group commit (a large /write) can bring more than that at once, and a
// batch past the cloud's item limit would be refused for good. Records go
// with the first piece.
func (o *Outbox) split(pb *pending) []*pending {
	max := o.cfg.BatchPoints
	if len(pb.readings) <= max {
		return []*pending{pb}
	}
	var out []*pending
	records := pb.records
	for i := 0; i < len(pb.readings); i += max {
		piece := &pending{minWAL: pb.minWAL}
		piece.add(pb.readings[i:min(i+max, len(pb.readings))], records)
		records = nil
		out = append(out, piece)
	}
	return out
}

// persistFailed keeps the store's WAL from the points of a batch that could
// not be persisted: a restart feeds them again.
func (o *Outbox) persistFailed(pb *pending) {
	o.mu.Lock()
	delete(o.cutting, pb)
	if pb.minWAL == 0 {
		o.mu.Unlock()
		return
	}
	if o.walFailed == 0 || pb.minWAL < o.walFailed {
		o.walFailed = pb.minWAL
	}
	o.mu.Unlock()
}

// seqReserve is how many sequence numbers one write of key n reserves, so
// that cutting a batch costs one synced write, not two. A restart skips the
// unused rest; gaps are harmless, reuse would not be.
const seqReserve = 1024

// reserve makes sure every seq below next is covered by the stored key n.
func (o *Outbox) reserve(next uint64) error {
	if next <= o.reserved {
		return nil
	}
	r := next + seqReserve
	if err := o.kv.Put(keyNext, binary.BigEndian.AppendUint64(nil, r)); err != nil {
		return fmt.Errorf("reserve seqs: %w", err)
	}
	o.reserved = r
	return nil
}

// persist seals one batch and writes it, making room under drop_oldest.
func (o *Outbox) persist(k pendKey, pb *pending, seq uint64) error {
	now := o.clock.Now().UnixMilli()
	h := Header{EdgeID: o.cfg.EdgeID, Seq: seq, Created: now, Kind: k.kind,
		Priority: uint8(k.prio), Count: pb.count()}
	body, err := o.seal(h, pb.readings, pb.records)
	if err != nil {
		return fmt.Errorf("seal batch %d: %w", seq, err)
	}
	r := record{meta: meta{Seq: seq, Created: now, Priority: k.prio, Kind: k.kind,
		Count: pb.count(), Oldest: pb.oldest}, Body: body}
	v := r.encode()
	r.Size = int64(len(v))
	o.makeRoom(r.Size)
	if err := o.kv.Put(queueKey(k.prio, seq), v); err != nil {
		return fmt.Errorf("persist batch %d: %w", seq, err)
	}
	o.mu.Lock()
	o.queues[k.prio] = append(o.queues[k.prio], r.meta)
	o.backlog.Add(r.Size)
	delete(o.cutting, pb) // in the same step, so Status never misses it
	o.mu.Unlock()
	o.signal()
	return nil
}

// makeRoom drops the oldest bulk batches under drop_oldest until size fits.
func (o *Outbox) makeRoom(size int64) {
	if o.cfg.WhenFull != WhenFullDropOldest {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.queues[PriorityBulk]
	for i := 0; i < len(q) && o.backlog.Load()+size > o.cfg.DiskBudgetBytes; {
		m := q[i]
		if m.Seq == o.inflight {
			i++
			continue
		}
		if err := o.kv.Delete(queueKey(PriorityBulk, m.Seq)); err != nil {
			o.log.Error("drop batch", "seq", m.Seq, "err", err)
			break
		}
		q = slices.Delete(q, i, i+1)
		o.backlog.Add(-m.Size)
		o.st.droppedBatches++
		o.st.droppedPoints += int64(m.Count)
		o.met.droppedBatches.Inc()
		o.met.droppedPoints.Add(float64(m.Count))
		o.log.Warn("disk budget full: dropped oldest bulk batch", "seq", m.Seq,
			"kind", m.Kind, "points", m.Count, "budget_bytes", o.cfg.DiskBudgetBytes)
	}
	o.queues[PriorityBulk] = q
}

func (o *Outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}
