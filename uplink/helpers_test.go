package uplink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

// fakeClock fires timers only when the test advances it.
type fakeClock struct {
	mu     sync.Mutex // guards the following
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// advanceToNext moves time to the earliest timer if it is due within max,
// fires it and everything due with it, and reports whether it did.
func (c *fakeClock) advanceToNext(limit time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return false
	}
	next := slices.MinFunc(c.timers, func(a, b fakeTimer) int { return a.at.Compare(b.at) }).at
	if next.Sub(c.now) > limit {
		return false
	}
	c.now = maxTime(c.now, next)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			keep = append(keep, t)
			continue
		}
		t.ch <- c.now
	}
	c.timers = keep
	return true
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// eventually drives the fake clock, one timer at a time, until cond holds.
func eventually(t *testing.T, clk *fakeClock, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		clk.advanceToNext(limit)
		time.Sleep(200 * time.Microsecond)
	}
}

// waitFor waits in real time, without moving the fake clock.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// action is how the fake cloud answers one attempt.
type action int

const (
	actOK          action = iota
	act500                // fail without storing
	actCommitReset        // store, then reset the connection
	act400                // reject for good
)

// testBody is what the test sealer produces: enough for the fake cloud to
// count points per seq.
type testBody struct {
	Seq   uint64  `json:"seq"`
	Kind  string  `json:"kind"`
	Prio  uint8   `json:"prio"`
	Times []int64 `json:"times"`
	Recs  int     `json:"recs"`
}

func testSealer(h Header, rs []point.Reading, recs [][]byte) ([]byte, error) {
	b := testBody{Seq: h.Seq, Kind: h.Kind, Prio: h.Priority, Recs: len(recs)}
	for _, r := range rs {
		b.Times = append(b.Times, r.Time)
	}
	return json.Marshal(b)
}

func testSigner(req *http.Request, body []byte, seq uint64, now time.Time) error {
	req.Header.Set("X-Test-Time", strconv.FormatInt(now.UnixMilli(), 10))
	return nil
}

// cloud is an in-process stand-in for the cloud ingest endpoint.
type cloud struct {
	srv    *httptest.Server
	behave func(seq uint64, attempt int) action

	mu       sync.Mutex // guards the following
	stored   map[uint64]int
	order    []uint64 // seqs in the order first stored
	attempts map[uint64]int
	keys     map[uint64][]string
	points   map[int64]int // per reading time
}

func newCloud(t *testing.T, behave func(seq uint64, attempt int) action) *cloud {
	t.Helper()
	c := &cloud{behave: behave, stored: map[uint64]int{}, attempts: map[uint64]int{},
		keys: map[uint64][]string{}, points: map[int64]int{}}
	if c.behave == nil {
		c.behave = func(uint64, int) action { return actOK }
	}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.ingest))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.srv.Listener = ln
	c.srv.Start()
	t.Cleanup(c.srv.Close)
	return c
}

func (c *cloud) ingest(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var b testBody
	if err != nil || r.URL.Path != IngestPath || json.Unmarshal(body, &b) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.attempts[b.Seq]++
	c.keys[b.Seq] = append(c.keys[b.Seq], r.Header.Get("Idempotency-Key"))
	act := c.behave(b.Seq, c.attempts[b.Seq])
	if act == actOK || act == actCommitReset {
		c.storeLocked(b)
	}
	c.mu.Unlock()
	switch act {
	case act500:
		http.Error(w, "database down", http.StatusInternalServerError)
	case act400:
		http.Error(w, "bad signature", http.StatusUnauthorized)
	case actCommitReset:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		}
	default:
		fmt.Fprintf(w, `{"acked":%d}`, b.Seq)
	}
}

// storeLocked stores a batch idempotently, as the real cloud does.
func (c *cloud) storeLocked(b testBody) {
	if c.stored[b.Seq] > 0 {
		return
	}
	c.stored[b.Seq]++
	c.order = append(c.order, b.Seq)
	for _, t := range b.Times {
		c.points[t]++
	}
}

func (c *cloud) snapshot() (order []uint64, stored, attempts map[uint64]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order), maps(c.stored), maps(c.attempts)
}

func maps(m map[uint64]int) map[uint64]int {
	out := make(map[uint64]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (c *cloud) storedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}

// testConfig is a small, fast configuration against urls.
func testConfig(urls ...string) Config {
	c := DefaultConfig()
	c.URLs = urls
	c.EdgeID = "edge-1"
	c.SignKey = strings.Repeat("ab", 32)
	c.DataKey = strings.Repeat("cd", 32)
	c.BatchPoints = 10
	c.DrainRate = -1
	c.BackoffMin = 100 * time.Millisecond
	c.BackoffMax = time.Second
	c.Timeout = 5 * time.Second
	return c
}

func openTest(t *testing.T, cfg Config, s kv.Store, clk *fakeClock) *Outbox {
	t.Helper()
	ob, err := Open(cfg, s, Options{Sealer: testSealer, Signer: testSigner, Clock: clk,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

// start runs ob until the test ends or stop is called.
func start(t *testing.T, ob *Outbox) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ob.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// readings makes n readings with times from t0, one per millisecond.
func readings(t0 int64, n int) []point.Reading {
	rs := make([]point.Reading, n)
	for i := range rs {
		rs[i] = point.Reading{Device: "d1", Metric: "temp", Time: t0 + int64(i), Value: point.Float(21.5)}
	}
	return rs
}

// enqueueBatches enqueues n full batches of cfg.BatchPoints readings.
func enqueueBatches(t *testing.T, ob *Outbox, p Priority, t0 int64, n int) {
	t.Helper()
	for i := range n {
		per := ob.cfg.BatchPoints
		if err := ob.Enqueue("telemetry", p, readings(t0+int64(i*per), per), nil); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
}

func assertExactlyOnce(t *testing.T, c *cloud, wantPoints int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for seq, n := range c.stored {
		if n != 1 {
			t.Errorf("seq %d stored %d times", seq, n)
		}
	}
	if len(c.points) != wantPoints {
		t.Errorf("cloud has %d distinct points, want %d", len(c.points), wantPoints)
	}
	for ts, n := range c.points {
		if n != 1 {
			t.Errorf("point at %d stored %d times", ts, n)
		}
	}
}
