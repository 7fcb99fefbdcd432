package cloud

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/point"
)

var t0 = time.UnixMilli(1_700_000_000_000)

func keysOf(seed byte) batch.Keys {
	return batch.Keys{Sign: bytes.Repeat([]byte{seed}, 32), Data: bytes.Repeat([]byte{seed + 1}, 32)}
}

func edgeConf(id string, seed byte) EdgeConfig {
	k := keysOf(seed)
	return EdgeConfig{ID: id, SignKey: hex.EncodeToString(k.Sign), DataKey: hex.EncodeToString(k.Data)}
}

type env struct {
	t   testing.TB
	dir string
	cfg Config
	now time.Time
	srv *Server
}

func newEnv(t testing.TB, mod func(*Config)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), now: t0}
	e.cfg = Config{Data: e.dir, AdminToken: "s3cret", Edges: []EdgeConfig{edgeConf("e1", 1), edgeConf("e2", 5)}}
	if mod != nil {
		mod(&e.cfg)
	}
	e.open()
	t.Cleanup(func() { e.srv.Close() })
	return e
}

func (e *env) open() {
	e.t.Helper()
	srv, err := Open(e.cfg, Options{Now: func() time.Time { return e.now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
}

func (e *env) restart() {
	e.t.Helper()
	if err := e.srv.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

// walk makes n 1 Hz readings of one series with 2-decimal values.
func walk(dev string, n int, start float64) []point.Reading {
	rs := make([]point.Reading, n)
	for i := range rs {
		rs[i] = point.Reading{Device: dev, Metric: "temp", Time: t0.UnixMilli() - int64(n-i)*1000,
			Value: point.Float(start + float64(i%7)/4)}
	}
	return rs
}

func seal(t testing.TB, id string, seq uint64, k batch.Keys, rs []point.Reading) []byte {
	t.Helper()
	body, err := batch.Seal(batch.Batch{Header: batch.Header{EdgeID: id, Seq: seq, Created: t0.UnixMilli(),
		Kind: batch.KindTelemetry}, Readings: rs}, k)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// signed builds a signed ingest request.
func signed(t testing.TB, id string, seq uint64, k batch.Keys, body []byte, at time.Time) *http.Request {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/ingest", bytes.NewReader(body))
	if err := batch.SignRequest(req, body, id, seq, k, at); err != nil {
		t.Fatal(err)
	}
	return req
}

func (e *env) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// send seals, signs and posts readings as batch seq of edge id.
func (e *env) send(id string, seq uint64, seed byte, rs []point.Reading) (int, IngestResult) {
	e.t.Helper()
	k := keysOf(seed)
	rec := e.do(signed(e.t, id, seq, k, seal(e.t, id, seq, k, rs), e.now))
	var res IngestResult
	if rec.Code == 200 {
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			e.t.Fatal(err)
		}
	}
	return rec.Code, res
}

func (e *env) get(path string) (int, []byte) {
	e.t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	rec := e.do(req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, body
}

// queryAnswer is the api package's /api/v1/query answer.
type queryAnswer struct {
	Kind   string      `json:"kind"`
	Points [][2]any    `json:"points"`
	Next   *string     `json:"next"`
	Tags   interface{} `json:"tags"`
}

func (e *env) query(edge, dev string) queryAnswer {
	e.t.Helper()
	code, body := e.get(fmt.Sprintf("/api/v1/edges/%s/query?device=%s&metric=temp&from=0&to=%d", edge, dev, e.now.UnixMilli()+1))
	if code != 200 {
		e.t.Fatalf("query %s/%s = %d %s", edge, dev, code, body)
	}
	var a queryAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// footprint counts stored series, records and acked sets: 0 means the
// cloud stored nothing.
func (e *env) footprint() int {
	e.t.Helper()
	n := len(e.srv.db.Series())
	for _, p := range []string{metaRec, metaAcked} {
		_ = e.srv.db.Meta().Scan([]byte(p), func(_, _ []byte) error { n++; return nil })
	}
	return n
}
