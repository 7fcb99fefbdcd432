package cloud

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/point"
)

func TestIngestSecurity(t *testing.T) {
	k := keysOf(1)
	rs := walk("d1", 100, 20)
	good := func(t *testing.T) []byte { return seal(t, "e1", 1, k, rs) }
	cases := []struct {
		name string
		cfg  func(*Config)
		req  func(t *testing.T, e *env) *http.Request
		code int
		kind string
	}{
		{"tampered body", nil, func(t *testing.T, e *env) *http.Request {
			body := good(t)
			req := signed(t, "e1", 1, k, body, e.now)
			body[len(body)-1] ^= 1
			return req
		}, 401, "bad_signature"},
		{"stale timestamp", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 1, k, good(t), e.now.Add(-6*time.Minute))
		}, 408, "stale_timestamp"},
		{"wrong signing key", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 1, keysOf(9), good(t), e.now)
		}, 401, "bad_signature"},
		{"other edge's key", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 1, keysOf(5), good(t), e.now)
		}, 401, "bad_signature"},
		{"unknown edge", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e9", 1, k, seal(t, "e9", 1, k, rs), e.now)
		}, 401, "unknown_edge"},
		{"unsigned", nil, func(t *testing.T, e *env) *http.Request {
			return httptest.NewRequest("POST", "/api/v1/ingest", bytes.NewReader(good(t)))
		}, 401, "bad_signature"},
		{"oversized body", func(c *Config) { c.MaxBody = 64 }, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 1, k, good(t), e.now)
		}, 413, "too_large"},
		{"zstd bomb", func(c *Config) { c.MaxRaw = 1 << 20 }, func(t *testing.T, e *env) *http.Request {
			body, err := batch.Seal(batch.Batch{Header: batch.Header{EdgeID: "e1", Seq: 1, Kind: batch.KindAlerts},
				Records: [][]byte{make([]byte, 32<<20)}}, k)
			if err != nil {
				t.Fatal(err)
			}
			return signed(t, "e1", 1, k, body, e.now)
		}, 413, "too_large"},
		{"too many items", func(c *Config) { c.MaxItems = 10 }, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 1, k, good(t), e.now)
		}, 413, "too_large"},
		{"garbage body", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 1, k, []byte("not a batch"), e.now)
		}, 400, "undecodable"},
		{"wrong data key", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 1, k, seal(t, "e1", 1, batch.Keys{Sign: k.Sign, Data: keysOf(9).Data}, rs), e.now)
		}, 400, "undecodable"},
		{"header seq differs", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 2, k, good(t), e.now)
		}, 400, "undecodable"},
		{"header edge differs", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 1, k, seal(t, "e2", 1, k, rs), e.now)
		}, 400, "undecodable"},
		{"sequence zero", nil, func(t *testing.T, e *env) *http.Request {
			return signed(t, "e1", 0, k, seal(t, "e1", 0, k, rs), e.now)
		}, 400, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			rec := e.do(tc.req(t, e))
			var body struct{ Error, Code string }
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != tc.code || body.Code != tc.kind {
				t.Fatalf("status %d %q (%s), want %d %q", rec.Code, body.Code, body.Error, tc.code, tc.kind)
			}
			if n := e.footprint(); n != 0 {
				t.Fatalf("a refused batch stored %d things", n)
			}
		})
	}
}

func TestIngestReplay(t *testing.T) { testIngestReplay(t, nil) }

// testIngestReplay runs on the embedded store (mod nil) or another backend.
func testIngestReplay(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	k := keysOf(1)
	body := seal(t, "e1", 1, k, walk("d1", 10, 20))
	req := signed(t, "e1", 1, k, body, e.now)
	replay := req.Clone(req.Context())
	if rec := e.do(req); rec.Code != 200 {
		t.Fatalf("first send = %d %s", rec.Code, rec.Body)
	}
	before := e.footprint()
	replay.Body = httptest.NewRequest("POST", "/", bytes.NewReader(body)).Body
	if rec := e.do(replay); rec.Code != 409 || !strings.Contains(rec.Body.String(), `"replay"`) {
		t.Fatalf("replay = %d %s, want 409 replay", rec.Code, rec.Body)
	}
	if e.footprint() != before || len(e.query("e1", "d1").Points) != 10 {
		t.Fatal("replay changed what is stored")
	}
}

func TestIdempotentRetry(t *testing.T) { testIdempotentRetry(t, nil) }

// testIdempotentRetry runs on the embedded store (mod nil) or another backend.
func testIdempotentRetry(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	rs := walk("d1", 500, 20)
	code, res := e.send("e1", 1, 1, rs)
	if code != 200 || res.Acked != 1 || res.Stored != 500 || res.Duplicate {
		t.Fatalf("first send = %d %+v", code, res)
	}
	for _, restart := range []bool{false, true} {
		if restart {
			e.restart()
		}
		code, res = e.send("e1", 1, 1, rs)
		if code != 200 || res.Acked != 1 || !res.Duplicate || res.Stored != 0 {
			t.Fatalf("retry (restart %v) = %d %+v, want a duplicate ack", restart, code, res)
		}
	}
	if n := len(e.query("e1", "d1").Points); n != 500 {
		t.Fatalf("query has %d points after retries, want 500", n)
	}
}

// TestStoreTwiceChangesNothing stores a batch again as after a crash between the
// store write and saving the acked set: nothing is duplicated.
func TestStoreTwiceChangesNothing(t *testing.T) { testStoreTwiceChangesNothing(t, nil) }

// testStoreTwiceChangesNothing runs on the embedded store (mod nil) or another backend.
func testStoreTwiceChangesNothing(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	rs := walk("d1", 300, 20)
	if code, _ := e.send("e1", 1, 1, rs); code != 200 {
		t.Fatal(code)
	}
	before := e.query("e1", "d1")
	if err := e.srv.db.Meta().Delete([]byte(metaAcked + "e1")); err != nil {
		t.Fatal(err)
	}
	e.restart()
	code, res := e.send("e1", 1, 1, rs)
	if code != 200 || res.Duplicate {
		t.Fatalf("re-store = %d %+v, want a fresh store", code, res)
	}
	after := e.query("e1", "d1")
	if len(after.Points) != len(before.Points) {
		t.Fatalf("%d points after storing twice, want %d", len(after.Points), len(before.Points))
	}
}

func TestOutOfOrderSequences(t *testing.T) { testOutOfOrderSequences(t, nil) }

// testOutOfOrderSequences runs on the embedded store (mod nil) or another backend.
func testOutOfOrderSequences(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	for _, seq := range []uint64{3, 1, 2, 5} {
		if code, res := e.send("e1", seq, 1, walk("d1", 3, float64(seq))); code != 200 || res.Acked != seq {
			t.Fatalf("seq %d = %d %+v", seq, code, res)
		}
	}
	_, body := e.get("/api/v1/admin/edges")
	var st []EdgeStatus
	if err := json.Unmarshal(body, &st); err != nil || len(st) != 2 || st[0].ID != "e1" || st[0].Acked != 3 {
		t.Fatalf("edges = %s (%v), want e1 acked 3", body, err)
	}
	if code, res := e.send("e1", 5, 1, nil); code != 200 || !res.Duplicate {
		t.Fatalf("seq 5 again = %d %+v, want duplicate", code, res)
	}
}

func TestRejectedReadingsAcked(t *testing.T) { testRejectedReadingsAcked(t, nil) }

// testRejectedReadingsAcked runs on the embedded store (mod nil) or another backend.
func testRejectedReadingsAcked(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	rs := []point.Reading{
		{Device: "d1", Metric: "temp", Time: 1, Value: point.Float(1)},
		{Device: "d1", Metric: "temp", Tags: []point.Tag{{Key: EdgeTag, Value: "forged"}}, Time: 2, Value: point.Float(2)},
		{Device: "bad\x01", Metric: "temp", Time: 3, Value: point.Float(3)},
	}
	code, res := e.send("e1", 1, 1, rs)
	if code != 200 || res.Stored != 1 || res.Rejected != 2 {
		t.Fatalf("send = %d %+v, want 1 stored 2 rejected", code, res)
	}
}

func TestRecords(t *testing.T) { testRecords(t, nil) }

// testRecords runs on the embedded store (mod nil) or another backend.
func testRecords(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	k := keysOf(1)
	recs := [][]byte{[]byte(`{"alert":"hot"}`), []byte("not json")}
	for seq := uint64(1); seq <= 2; seq++ {
		body, err := batch.Seal(batch.Batch{Header: batch.Header{EdgeID: "e1", Seq: seq, Kind: batch.KindAlerts}, Records: recs}, k)
		if err != nil {
			t.Fatal(err)
		}
		if rec := e.do(signed(t, "e1", seq, k, body, e.now)); rec.Code != 200 {
			t.Fatalf("send = %d %s", rec.Code, rec.Body)
		}
	}
	code, body := e.get("/api/v1/edges/e1/records?kind=alerts&after=1")
	want := `[{"seq":2,"index":0,"record":{"alert":"hot"}},{"seq":2,"index":1,"record":"not json"}]`
	if code != 200 || strings.TrimSpace(string(body)) != want {
		t.Fatalf("records = %d %q, want %s", code, body, want)
	}
	if code, _ := e.get("/api/v1/edges/e1/records?kind=telemetry"); code != 400 {
		t.Fatalf("telemetry records = %d, want 400", code)
	}
}
