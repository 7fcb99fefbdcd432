package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgevault/edgevault/sim"
)

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{"present", "Name:\tx\nVmPeak:\t  999 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 10 kB\n", 1234 << 10, false},
		{"missing", "Name:\tx\nVmRSS:\t 10 kB\n", 0, true},
		{"bad unit", "VmHWM:\t 12 MB\n", 0, true},
		{"bad number", "VmHWM:\t 1x kB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVmHWM([]byte(tt.status))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %d, %v; want %d, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPeakRSSOfSelf(t *testing.T) {
	rss, err := peakRSS(os.Getpid())
	if err != nil || rss < 1<<20 {
		t.Fatalf("peakRSS(self) = %d, %v", rss, err)
	}
}

func TestDirUsage(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.log"), make([]byte, 1000), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "000001.sst"), make([]byte, 300), 0o644)
	u, err := dirUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if u.Apparent != 1300 || u.SST != 300 || u.Allocated < 0 {
		t.Fatalf("usage %+v, want apparent 1300, sst 300", u)
	}
}

// A file deleted between the directory read and its stat (as Pebble deletes
// obsolete SSTables after a compaction) counts as nothing, not an error.
func TestDiskUsageSkipsVanishedFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "000007.sst"), make([]byte, 500), 0o644); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("read dir: %v, %d entries", err, len(ents))
	}
	if err := os.Remove(filepath.Join(dir, "000007.sst")); err != nil {
		t.Fatal(err)
	}
	var u DiskUsage
	if err := u.add(filepath.Join(dir, ents[0].Name()), ents[0]); err != nil {
		t.Fatalf("vanished file: %v", err)
	}
	if u != (DiskUsage{}) {
		t.Fatalf("vanished file counted: %+v", u)
	}
}

func TestLineBatches(t *testing.T) {
	const start = 1795856400000
	batches := LineBatches(3, 100, 7, start)
	if len(batches) != 3 {
		t.Fatalf("%d batches", len(batches))
	}
	seen := map[string]bool{}
	for _, b := range batches {
		sc := bufio.NewScanner(bytes.NewReader(b))
		n := 0
		for sc.Scan() {
			n++
			parts := strings.Split(sc.Text(), " ")
			if len(parts) != 3 || !strings.HasPrefix(parts[0], "env,device=bench-000") {
				t.Fatalf("line %q", sc.Text())
			}
			if f := strings.Split(parts[1], ","); len(f) != fieldsPerLine {
				t.Fatalf("line %q has %d fields", sc.Text(), len(f))
			}
			ns, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil || ns < start*1e6 || ns%1e6 != 0 {
				t.Fatalf("timestamp %q", parts[2])
			}
			key := parts[0] + " " + parts[2]
			if seen[key] {
				t.Fatalf("series and timestamp repeated: %s", key)
			}
			seen[key] = true
		}
		if n != 100 {
			t.Fatalf("batch has %d lines, want 100", n)
		}
	}
}

func TestMosquittoConfig(t *testing.T) {
	c := MosquittoConfig(4242)
	for _, want := range []string{"listener 4242 127.0.0.1\n", "allow_anonymous true\n", "persistence false\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
}

func TestInfluxConfig(t *testing.T) {
	c := InfluxConfig("/tmp/x", 1111, 2222)
	for _, want := range []string{`reporting-disabled = true`, `bind-address = "127.0.0.1:2222"`,
		`dir = "/tmp/x/meta"`, `dir = "/tmp/x/data"`, `wal-dir = "/tmp/x/wal"`, `bind-address = "127.0.0.1:1111"`,
		"[monitor]\n  store-enabled = false"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
}

func TestLookPathMissing(t *testing.T) {
	_, err := lookPath("edgevault-no-such-binary")
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "scripts/install-deps.sh") {
		t.Fatalf("err = %v", err)
	}
}

func TestCountSeriesPages(t *testing.T) {
	// 25 points at t=100..124, served 10 per page.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("device") != "d" || q.Get("metric") != "m" || r.URL.Path != "/api/v1/query" {
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		from, _ := strconv.Atoi(q.Get("from"))
		var pts []string
		for ts := max(from, 100); ts < 125 && len(pts) < 10; ts++ {
			pts = append(pts, fmt.Sprintf("[%d,1.5]", ts))
		}
		next := "null"
		if from+len(pts) < 125 && len(pts) == 10 {
			next = strconv.Itoa(max(from, 100) + 10)
			if from > 100 { // the API's form: the next page's path and query
				next = fmt.Sprintf(`"/api/v1/query?device=d&from=%s&metric=m"`, next)
			}
		}
		fmt.Fprintf(w, `{"points":[%s],"next":%s}`, strings.Join(pts, ","), next)
	}))
	defer srv.Close()
	n, err := countSeries(t.Context(), srv.Client(), srv.URL, "d", "m", 1, 1000)
	if err != nil || n != 25 {
		t.Fatalf("count = %d, %v; want 25", n, err)
	}
	if _, err := countSeries(t.Context(), srv.Client(), srv.URL, "x", "m", 1, 1000); err == nil {
		t.Fatal("no error for a 400")
	}
}

func TestNextFrom(t *testing.T) {
	tests := []struct {
		name    string
		next    string
		want    int64
		wantErr bool
	}{
		{"absent", ``, 0, false},
		{"null", `null`, 0, false},
		{"path", `"/api/v1/query?device=d&from=1795132800123&metric=m"`, 1795132800123, false},
		{"number", `42`, 42, false},
		{"path without from", `"/api/v1/query?device=d"`, 0, true},
		{"object", `{}`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nextFrom(json.RawMessage(tt.next))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %d, %v; want %d, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCompact(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   error
		isErr  bool
	}{
		{"done", http.StatusNoContent, nil, false},
		{"ok", http.StatusOK, nil, false},
		{"missing", http.StatusNotFound, ErrNoCompact, true},
		{"failed", http.StatusInternalServerError, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/api/v1/admin/compact" {
					w.WriteHeader(http.StatusTeapot)
					return
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			err := compact(t.Context(), srv.Client(), srv.URL)
			if (err != nil) != tt.isErr || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestPostBatchesOneConnection(t *testing.T) {
	var conns, lines atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			lines.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	bodies := LineBatches(5, 50, 3, 1000)
	wt, err := postBatches(t.Context(), srv.URL+"/write", bodies, 50)
	if err != nil {
		t.Fatal(err)
	}
	if wt.Batches != 5 || wt.Points != 5*50*fieldsPerLine || lines.Load() != 250 {
		t.Errorf("target %+v, server saw %d lines", wt, lines.Load())
	}
	if conns.Load() != 1 {
		t.Errorf("%d connections, want 1 keep-alive connection", conns.Load())
	}
	if wt.PointsPerSec <= 0 || wt.P99Ms < wt.P50Ms {
		t.Errorf("rates %+v", wt)
	}
}

func TestPostBatchesRejected(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad line", http.StatusBadRequest)
	}))
	defer srv.Close()
	_, err := postBatches(t.Context(), srv.URL, [][]byte{[]byte("x\n")}, 1)
	if err == nil || !strings.Contains(err.Error(), "bad line") {
		t.Fatalf("err = %v", err)
	}
}

func TestRatio(t *testing.T) {
	msgs := func(t IngestTarget) float64 { return t.Load.MsgsPerSec }
	at := func(name string, v float64) IngestTarget {
		return IngestTarget{Name: name, Load: sim.Report{MsgsPerSec: v}}
	}
	edge := IngestTarget{Name: "edge", Load: sim.Report{MsgsPerSec: 500}}
	mosq := IngestTarget{Name: "mosquitto", Load: sim.Report{MsgsPerSec: 1000}}
	tests := []struct {
		name string
		ts   []IngestTarget
		want float64
	}{
		{"both", []IngestTarget{edge, mosq}, 0.5},
		{"order does not matter", []IngestTarget{mosq, edge}, 0.5},
		{"edge only", []IngestTarget{edge}, 0},
		{"none", nil, 0},
		{"medians over rounds", []IngestTarget{edge, mosq, at("edge", 100), at("mosquitto", 3000), at("edge", 900),
			at("mosquitto", 2000)}, 0.25},
		{"even rounds average the middle two", []IngestTarget{edge, mosq, at("edge", 700), at("mosquitto", 1000)}, 0.6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ratio(tt.ts, "edge", "mosquitto", msgs); got != tt.want {
				t.Errorf("ratio = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCommandFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inOutput string
	}{
		{"no args", nil, 2, "usage: edgevault bench"},
		{"help", []string{"-h"}, 0, "ingest"},
		{"unknown", []string{"nope"}, 2, `unknown benchmark "nope"`},
		{"ingest help", []string{"ingest", "-h"}, 0, "-inflight"},
		{"write help", []string{"write", "-h"}, 0, "-batch-lines"},
		{"storage help", []string{"storage", "-h"}, 0, "-influx-settle"},
		{"scale help", []string{"scale", "-h"}, 0, "-rate"},
		{"bad storage target", []string{"storage", "--targets", "redis", "--devices", "1", "--seconds", "60"}, 1,
			`unknown storage target "redis"`},
		{"bad flag", []string{"ingest", "--nope"}, 2, "flag provided but not defined"},
		{"extra args", []string{"write", "x"}, 2, "unexpected arguments"},
		{"bad target", []string{"ingest", "--targets", "redis"}, 1, `unknown ingest target "redis"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := Command(tt.args, &out, &out); code != tt.code {
				t.Fatalf("code = %d, want %d\n%s", code, tt.code, out.String())
			}
			if !strings.Contains(out.String(), tt.inOutput) {
				t.Errorf("output lacks %q:\n%s", tt.inOutput, out.String())
			}
		})
	}
}

func TestTables(t *testing.T) {
	var ir IngestResult
	ir.Options.Devices, ir.Options.QoS, ir.Options.Format = 50, 1, "json"
	ir.Targets = []IngestTarget{
		{Name: "edge", Load: sim.Report{Acked: 10, MsgsPerSec: 500}, StoredPoints: 50, Verified: true, BytesPerPoint: 3.5,
			Notes: []string{"a note"}},
		{Name: "mosquitto", Load: sim.Report{Acked: 20, MsgsPerSec: 1000}},
	}
	ir.Ratio = 0.5
	var b bytes.Buffer
	WriteIngestTable(&b, ir)
	for _, want := range []string{"50 ok", "3.50", "edgevault/mosquitto msgs/s (medians): 0.50", "note (edge): a note"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("ingest table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	WriteWriteTable(&b, WriteResult{BatchLines: 5000, Targets: []WriteTarget{{Name: "influxdb", Points: 25000, PointsPerSec: 123456}},
		Ratio: 1.25})
	for _, want := range []string{"influxdb", "123456", "edgevault/influxdb points/s (medians): 1.25"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("write table lacks %q:\n%s", want, b.String())
		}
	}
}

// TestProcStopsAndCleansUp runs a real child (sleep) through the peer
// lifecycle: the process is gone and the temp dir removed after close.
func TestProcStopsAndCleansUp(t *testing.T) {
	bin, err := lookPath("sleep")
	if err != nil {
		t.Skip(err)
	}
	p, err := newPeer("test")
	if err != nil {
		t.Fatal(err)
	}
	if p.proc, err = startProc("sleep", bin, "60"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := p.waitTCP(ctx, "127.0.0.1:1", time.Second); !errors.Is(err, ErrNotReady) {
		t.Errorf("waitTCP = %v, want ErrNotReady", err)
	}
	p.close()
	select {
	case <-p.exited:
	default:
		t.Fatal("child still running after close")
	}
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s not removed: %v", p.dir, err)
	}
}

func TestRoundOrder(t *testing.T) {
	targets := []string{"edge", "mosquitto"}
	tests := []struct {
		round int
		want  string
	}{{1, "edge,mosquitto"}, {2, "mosquitto,edge"}, {3, "edge,mosquitto"}}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.round), func(t *testing.T) {
			if got := strings.Join(roundOrder(targets, tt.round), ","); got != tt.want {
				t.Errorf("round %d: %s, want %s", tt.round, got, tt.want)
			}
		})
	}
	if targets[0] != "edge" {
		t.Error("roundOrder modified its input")
	}
}
