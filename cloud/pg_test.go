package cloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/edgevault/edgevault/cloud/pgstore"
	"github.com/edgevault/edgevault/internal/pgtest"
)

// onPostgres configures a test env to store in a new PostgreSQL database.
func onPostgres(t testing.TB) func(*Config) {
	url := pgtest.URL(t)
	return func(c *Config) {
		c.Storage = Storage{Backend: BackendPostgres, Postgres: pgstore.Config{URL: url}}
	}
}

// TestPostgres runs the ingest, query, stats and admin tests of the
// embedded store on the PostgreSQL backend, through the config.
func TestPostgres(t *testing.T) {
	for name, fn := range map[string]func(*testing.T, func(*Config)){
		"IngestReplay": testIngestReplay, "IdempotentRetry": testIdempotentRetry,
		"StoreTwiceChangesNothing": testStoreTwiceChangesNothing, "OutOfOrderSequences": testOutOfOrderSequences,
		"RejectedReadingsAcked": testRejectedReadingsAcked, "Records": testRecords, "State": testState,
		"QueryBack": testQueryBack, "Stats": testStats, "AdminEdges": testAdminEdges,
	} {
		t.Run(name, func(t *testing.T) { fn(t, onPostgres(t)) })
	}
}

func TestEdgeTagAgrees(t *testing.T) {
	if pgstore.EdgeTag != EdgeTag {
		t.Fatalf("pgstore.EdgeTag %q, cloud.EdgeTag %q", pgstore.EdgeTag, EdgeTag)
	}
}

// twin opens a second cloud process on e's configuration.
func (e *env) twin() *env {
	e.t.Helper()
	t := &env{t: e.t, dir: e.dir, cfg: e.cfg, now: e.now}
	t.open()
	e.t.Cleanup(func() { t.srv.Close() })
	return t
}

// TestTwoClouds serves one database from two cloud processes: a batch
// acknowledged by one is a duplicate at the other, acknowledgements from
// both end in one set, and an edge registered at one is known to the other.
func TestTwoClouds(t *testing.T) {
	a := newEnv(t, onPostgres(t))
	b := a.twin()
	steps := []struct {
		at        *env
		seq       uint64
		duplicate bool
	}{{a, 1, false}, {b, 1, true}, {b, 3, false}, {a, 2, false}, {a, 3, true}, {b, 2, true}}
	for i, st := range steps {
		code, res := st.at.send("e1", st.seq, 1, walk("d1", 50, float64(st.seq)))
		if code != 200 || res.Acked != st.seq || res.Duplicate != st.duplicate {
			t.Fatalf("step %d: seq %d = %d %+v, want duplicate %v", i, st.seq, code, res, st.duplicate)
		}
	}
	for _, e := range []*env{a, b} {
		code, body := e.get("/api/v1/admin/edges")
		var edges []EdgeStatus
		if err := json.Unmarshal(body, &edges); code != 200 || err != nil || edges[0].Acked != 3 {
			t.Fatalf("edges = %d %s", code, body)
		}
		if n := len(e.query("e1", "d1").Points); n != 50 {
			t.Fatalf("%d points, want 50", n)
		}
	}
	raw, _ := json.Marshal(edgeConf("e3", 7))
	req := httptest.NewRequest("POST", "/api/v1/admin/edges", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer s3cret")
	if code := a.do(req).Code; code != 201 {
		t.Fatalf("register = %d", code)
	}
	if code, res := b.send("e3", 1, 7, walk("d", 5, 1)); code != 200 || res.Stored != 5 {
		t.Fatalf("edge registered at the other process = %d %+v", code, res)
	}
}

// TestTwoCloudsConcurrent sends many batches of one edge to two processes
// at once; every sequence ends acknowledged.
func TestTwoCloudsConcurrent(t *testing.T) {
	a := newEnv(t, onPostgres(t))
	b := a.twin()
	const n = 40
	errs := make(chan error, n)
	for seq := uint64(1); seq <= n; seq++ {
		go func() {
			at := []*env{a, b}[seq%2]
			rs := walk(fmt.Sprintf("d%d", seq%4), 20, float64(seq))
			k := keysOf(1)
			rec := at.do(signed(t, "e1", seq, k, seal(t, "e1", seq, k, rs), at.now))
			if rec.Code != 200 {
				errs <- fmt.Errorf("seq %d: %d %s", seq, rec.Code, rec.Body)
				return
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	c := a.twin()
	code, body := c.get("/api/v1/admin/edges")
	var edges []EdgeStatus
	if err := json.Unmarshal(body, &edges); code != 200 || err != nil || edges[0].Acked != n {
		t.Fatalf("edges = %d %s, want e1 acked %d", code, body, n)
	}
}

func TestParseStorageConfig(t *testing.T) {
	cases := []struct {
		name, yaml, err string
	}{
		{"default", "", ""},
		{"embedded", "storage: {backend: embedded}", ""},
		{"postgres", "storage: {backend: postgres, postgres: {url: 'postgres://x@127.0.0.1/db', partition: 168h, layout: plain}}", ""},
		{"no url", "storage: {backend: postgres}", "storage.postgres: url: required"},
		{"bad layout", "storage: {backend: postgres, postgres: {url: u, layout: wide}}", "layout"},
		{"bad partition", "storage: {backend: postgres, postgres: {url: u, partition: 90m}}", "partition"},
		{"bad backend", "storage: {backend: mysql}", "storage.backend"},
		{"unknown key", "storage: {backend: postgres, postgres: {url: u, pool: 3}}", "pool"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.err))) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}
