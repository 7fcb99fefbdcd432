package cloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/point"
)

func TestQueryBack(t *testing.T) { testQueryBack(t, nil) }

// testQueryBack runs on the embedded store (mod nil) or another backend.
func testQueryBack(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	a := walk("d1", 120, 20)
	b := walk("d1", 60, 100) // same series name on another edge
	if code, _ := e.send("e1", 1, 1, a); code != 200 {
		t.Fatal(code)
	}
	if code, _ := e.send("e2", 1, 5, b); code != 200 {
		t.Fatal(code)
	}
	got := e.query("e1", "d1")
	if got.Kind != "float" || len(got.Points) != len(a) {
		t.Fatalf("e1 query: kind %q, %d points, want float %d", got.Kind, len(got.Points), len(a))
	}
	for i, p := range got.Points {
		if int64(p[0].(float64)) != a[i].Time || p[1].(float64) != a[i].Value.Float() {
			t.Fatalf("point %d = %v, want %d %v", i, p, a[i].Time, a[i].Value)
		}
	}
	if n := len(e.query("e2", "d1").Points); n != len(b) {
		t.Fatalf("e2 has %d points, want %d", n, len(b))
	}
	cases := []struct {
		name, path string
		code       int
	}{
		{"unknown edge", "/api/v1/edges/e9/query?device=d1&metric=temp", 404},
		{"reserved tag", "/api/v1/edges/e1/query?device=d1&metric=temp&tag._edge=e2", 400},
		{"bad param", "/api/v1/edges/e1/query?device=d1&metric=temp&bogus=1", 400},
		{"aggregate", "/api/v1/edges/e1/query?device=d1&metric=temp&from=0&step=1h&agg=count", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := e.get(tc.path); code != tc.code {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, code, body, tc.code)
			}
		})
	}
}

func TestStats(t *testing.T) { testStats(t, nil) }

// testStats runs on the embedded store (mod nil) or another backend.
func testStats(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	mk := func(dev string, vals ...float64) []point.Reading {
		var rs []point.Reading
		for i, v := range vals {
			rs = append(rs, point.Reading{Device: dev, Metric: "temp", Time: 1000 * int64(i), Value: point.Float(v)})
		}
		return rs
	}
	e.send("e1", 1, 1, append(mk("a", 1, 2, 3), mk("b", 10)...))
	e.send("e2", 1, 5, append(mk("a", 5, 7), point.Reading{Device: "a", Metric: "hum", Time: 1, Value: point.Float(99)}))
	cases := []struct {
		name, query string
		want        string
	}{
		{"whole range", "metric=temp&from=0&to=10000",
			`[{"edge":"e1","series":2,"buckets":[{"t":0,"count":4,"avg":4,"min":1,"max":10}]},` +
				`{"edge":"e2","series":1,"buckets":[{"t":0,"count":2,"avg":6,"min":5,"max":7}]}]`},
		{"step", "metric=temp&from=0&to=4000&step=2s&edge=e1&agg=count,max",
			`[{"edge":"e1","series":2,"buckets":[{"t":0,"count":3,"max":10},{"t":2000,"count":1,"max":3}]}]`},
		{"device", "metric=temp&from=0&to=4000&device=b",
			`[{"edge":"e1","series":1,"buckets":[{"t":0,"count":1,"avg":10,"min":10,"max":10}]}]`},
		{"nothing", "metric=nope&from=0&to=4000", `[]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.get("/api/v1/stats?" + tc.query)
			var st Stats
			if err := json.Unmarshal(body, &st); code != 200 || err != nil {
				t.Fatalf("stats = %d %s", code, body)
			}
			got, _ := json.Marshal(st.Edges)
			if string(got) != tc.want {
				t.Fatalf("edges = %s\nwant     %s", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "metric=temp&agg=sum", "metric=temp&from=5&to=1", "metric=temp&step=0s", "metric=temp&x=1"} {
		if code, _ := e.get("/api/v1/stats?" + bad); code != 400 {
			t.Errorf("stats?%s = %d, want 400", bad, code)
		}
	}
}

// BenchmarkIngest seals, signs and posts 10,000-point batches to the cloud
// over loopback HTTP (edge and cloud share the CPU, as in a drain test).
func BenchmarkIngest(b *testing.B) { benchIngest(b, nil) }

// BenchmarkIngestPostgres is BenchmarkIngest on the PostgreSQL backend.
func BenchmarkIngestPostgres(b *testing.B) { benchIngest(b, onPostgres(b)) }

func benchIngest(b *testing.B, mod func(*Config)) {
	e := newEnv(b, mod)
	ts := httptest.NewServer(e.srv.Handler())
	defer ts.Close()
	k := keysOf(1)
	const series, per = 10, 1000
	var rs []point.Reading
	rng := rand.New(rand.NewPCG(1, 2))
	for s := range series {
		w := walk(fmt.Sprintf("d%d", s), per, 20)
		v := 20.0
		for i := range w { // 2-decimal random walk
			v = math.Round((v+float64(rng.IntN(101)-50)/100)*100) / 100
			w[i].Value = point.Float(v)
		}
		rs = append(rs, w...)
	}
	seq, wire := uint64(0), 0
	for b.Loop() {
		seq++
		for i := range rs {
			rs[i].Time += series * per * 1000
		}
		body := seal(b, "e1", seq, k, rs)
		wire += len(body)
		req, _ := http.NewRequest("POST", ts.URL+"/api/v1/ingest", bytes.NewReader(body))
		if err := batch.SignRequest(req, body, "e1", seq, k, e.now); err != nil {
			b.Fatal(err)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("ingest = %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*len(rs))/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(wire)/float64(b.N*len(rs)), "B/point")
}

func FuzzStatsParams(f *testing.F) {
	f.Add("metric=temp&from=0&to=4000&step=2s&agg=count,max")
	f.Add("metric=temp&from=2024-01-01T00:00:00Z&step=7d")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseStats(v, t0)
		if err == nil && (q.from >= q.to || q.from < minTime || q.to > maxTime || q.step < 0 || (q.step > 0 && (q.to-q.from)/q.step > 100_000)) {
			t.Fatalf("accepted %q as %+v", raw, q)
		}
	})
}
