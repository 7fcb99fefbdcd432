package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/sim"
)

// storageLine is one parsed line of StorageBatches.
type storageLine struct {
	device    string
	temp, hum int64 // hundredths
	sec       int64
}

func parseStorageLine(t *testing.T, l string) storageLine {
	t.Helper()
	var sl storageLine
	parts := strings.Split(l, " ")
	if len(parts) != 3 {
		t.Fatalf("line %q", l)
	}
	sl.device, _ = strings.CutPrefix(parts[0], "env,device=")
	fields := strings.Split(parts[1], ",")
	if len(fields) != 2 || !strings.HasPrefix(fields[0], "temperature=") || !strings.HasPrefix(fields[1], "humidity=") {
		t.Fatalf("fields of %q", l)
	}
	for i, dst := range []*int64{&sl.temp, &sl.hum} {
		_, v, _ := strings.Cut(fields[i], "=")
		whole, frac, ok := strings.Cut(v, ".")
		if !ok || len(frac) != 2 {
			t.Fatalf("value %q of %q lacks 2 decimals", v, l)
		}
		n, err := strconv.ParseInt(whole+frac, 10, 64)
		if err != nil {
			t.Fatalf("value %q: %v", v, err)
		}
		*dst = n
	}
	var err error
	if sl.sec, err = strconv.ParseInt(parts[2], 10, 64); err != nil {
		t.Fatalf("timestamp of %q: %v", l, err)
	}
	return sl
}

func TestStorageBatches(t *testing.T) {
	const start, devices, seconds, lines = 1795132800, 3, 100, 70
	batches := StorageBatches(devices, seconds, lines, start, 1)
	if len(batches) != 5 { // 300 lines in batches of 70
		t.Fatalf("%d batches, want 5", len(batches))
	}
	last := map[string]storageLine{}
	total := 0
	for i, b := range batches {
		n := bytes.Count(b, []byte("\n"))
		if want := map[bool]int{true: 20, false: lines}[i == len(batches)-1]; n != want {
			t.Fatalf("batch %d has %d lines, want %d", i, n, want)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			l := parseStorageLine(t, sc.Text())
			total++
			prev, seen := last[l.device]
			switch {
			case !seen && (l.temp != 2100 || l.hum != 4500 || l.sec != start):
				t.Fatalf("first line of %s: %+v, want 21.00/45.00 at %d", l.device, l, start)
			case seen && l.sec != prev.sec+1:
				t.Fatalf("%s: second %d after %d", l.device, l.sec, prev.sec)
			case seen && (abs(l.temp-prev.temp) > 5 || abs(l.hum-prev.hum) > 5):
				t.Fatalf("%s: step %+v -> %+v exceeds 0.05", l.device, prev, l)
			}
			last[l.device] = l
		}
	}
	if total != devices*seconds || len(last) != devices {
		t.Fatalf("%d lines over %d devices, want %d over %d", total, len(last), devices*seconds, devices)
	}
}

func abs(v int64) int64 { return max(v, -v) }

func TestStorageBatchesSeeded(t *testing.T) {
	a := StorageBatches(2, 500, 5000, 0, 7)
	b := StorageBatches(2, 500, 5000, 0, 7)
	c := StorageBatches(2, 500, 5000, 0, 8)
	if !bytes.Equal(a[0], b[0]) {
		t.Error("same seed, different data")
	}
	if bytes.Equal(a[0], c[0]) {
		t.Error("different seeds, same data")
	}
	if !bytes.Contains(a[0], []byte("device=stor-0001")) {
		t.Error("device 1 missing")
	}
}

func TestAppendHundredths(t *testing.T) {
	tests := []struct {
		name string
		v    int64
		want string
	}{
		{"zero", 0, "0.00"},
		{"one hundredth", 1, "0.01"},
		{"tenths", 50, "0.50"},
		{"whole", 2100, "21.00"},
		{"mixed", 4497, "44.97"},
		{"negative small", -7, "-0.07"},
		{"negative", -1234, "-12.34"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendHundredths(nil, tt.v)); got != tt.want {
				t.Errorf("appendHundredths(%d) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

func TestParseEdgePage(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		n       int
		next    string
		wantErr error
	}{
		{"last page", `{"source":"raw","points":[[100,1.5],[101,2]],"next":null}`, 2, "", nil},
		{"no next", `{"points":[]}`, 0, "", nil},
		{"paged", `{"points":[[100,1]],"next":"/api/v1/query?from=101"}`, 1, "/api/v1/query?from=101", nil},
		{"unordered", `{"points":[[101,1],[100,1]]}`, 0, "", ErrBadAnswer},
		{"repeated", `{"points":[[100,1],[100,1]]}`, 0, "", ErrBadAnswer},
		{"before from", `{"points":[[99,1]]}`, 0, "", ErrBadAnswer},
		{"at to", `{"points":[[200,1]]}`, 0, "", ErrBadAnswer},
		{"numeric next", `{"points":[],"next":101}`, 0, "", ErrBadAnswer},
		{"not json", `<html>`, 0, "", ErrBadAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, _, next, err := parseEdgePage([]byte(tt.body), 100, 200)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != tt.n || next != tt.next {
				t.Errorf("got %d, %q; want %d, %q", n, next, tt.n, tt.next)
			}
		})
	}
}

func TestParseInfluxRows(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    int
		wantErr bool
	}{
		{"rows", `{"results":[{"statement_id":0,"series":[{"name":"env","columns":["time","temperature"],"values":[[1,21.5],[2,21.51]]}]}]}`, 2, false},
		{"null buckets", `{"results":[{"series":[{"values":[[0,1.5],[60000,null],[120000,1]]}]}]}`, 2, false},
		{"no series", `{"results":[{"statement_id":0}]}`, 0, false},
		{"error", `{"results":[{"error":"database not found: bench"}]}`, 0, true},
		{"partial", `{"results":[{"series":[{"values":[[1,1]]}],"partial":true}]}`, 0, true},
		{"not json", `oops`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInfluxRows([]byte(tt.body))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %d, %v; want %d, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestCheckCount(t *testing.T) {
	if err := checkCount("raw", 86400, 86400); err != nil {
		t.Fatal(err)
	}
	if err := checkCount("raw", 86399, 86400); !errors.Is(err, ErrWrongCount) || !strings.Contains(err.Error(), "86399") {
		t.Fatalf("err = %v", err)
	}
}

// TestTimeQueryEdgePages serves 25 points 10 per page with next paths, as
// the API does, and checks that every run follows the pages to the end.
func TestTimeQueryEdgePages(t *testing.T) {
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		var pts []string
		ts := from
		for ; ts < 125 && len(pts) < 10; ts++ {
			pts = append(pts, fmt.Sprintf("[%d,1.5]", ts))
		}
		next := "null"
		if ts < 125 {
			next = fmt.Sprintf(`"/api/v1/query?from=%d"`, ts)
		}
		fmt.Fprintf(w, `{"source":"raw","points":[%s],"next":%s}`, strings.Join(pts, ","), next)
	}))
	defer srv.Close()
	q := benchQuery{desc: "raw", want: 25, fetch: edgeFetch(srv.URL, "/api/v1/query?from=100", 100, 200)}
	st, err := timeQuery(t.Context(), srv.Client(), q, 4)
	if err != nil {
		t.Fatal(err)
	}
	if st.Points != 25 || st.Runs != 4 || st.Source != "raw" || requests != 5*3 || st.P50Ms <= 0 || st.P99Ms < st.P50Ms || st.MinMs > st.P50Ms {
		t.Fatalf("stat %+v after %d requests", st, requests)
	}
	q.want = 24
	if _, err := timeQuery(t.Context(), srv.Client(), q, 1); !errors.Is(err, ErrWrongCount) {
		t.Fatalf("wrong count: err = %v", err)
	}
}

func TestTimeQueryInflux(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/query" || q.Get("db") != "bench" || q.Get("epoch") != "ms" || !strings.HasPrefix(q.Get("q"), "SELECT") {
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `{"results":[{"series":[{"values":[[0,1.5],[60000,1.25]]}]}]}`)
	}))
	defer srv.Close()
	r := storageRun{o: StorageOptions{Seconds: 120}, device: "stor-0000", metric: "temperature", from: 0, to: 120000}
	qs := influxQueries(strings.TrimPrefix(srv.URL, "http://"), r)
	if !strings.Contains(qs[1].desc, "GROUP BY time(1m)") || !strings.Contains(qs[0].desc, `"device" = 'stor-0000'`) {
		t.Fatalf("queries %q, %q", qs[0].desc, qs[1].desc)
	}
	if _, err := timeQuery(t.Context(), srv.Client(), qs[0], 2); !errors.Is(err, ErrWrongCount) {
		t.Fatalf("raw (want 120, served 2): err = %v", err)
	}
	st, err := timeQuery(t.Context(), srv.Client(), qs[1], 2)
	if err != nil || st.Points != 2 {
		t.Fatalf("avg: %+v, %v", st, err)
	}
}

func TestTimedGetStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
	}))
	defer srv.Close()
	if _, _, err := timedGet(t.Context(), srv.Client(), srv.URL, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("err = %v", err)
	}
}

func TestInfluxConfigData(t *testing.T) {
	c := influxConfig("/tmp/x", 1111, 2222, influxColdSettings...)
	data := c[strings.Index(c, "[data]"):strings.Index(c, "[retention]")]
	for _, want := range append([]string{"query-log-enabled = false"}, influxColdSettings...) {
		if !strings.Contains(data, "\n  "+want+"\n") {
			t.Errorf("[data] lacks %q:\n%s", want, data)
		}
	}
	if InfluxConfig("/tmp/x", 1111, 2222) != influxConfig("/tmp/x", 1111, 2222) {
		t.Error("InfluxConfig differs from influxConfig without extras")
	}
}

func TestInfluxSettled(t *testing.T) {
	dir := t.TempDir()
	wal := filepath.Join(dir, "wal", "bench", "autogen", "1")
	data := filepath.Join(dir, "data", "bench", "autogen", "1")
	os.MkdirAll(wal, 0o755)
	os.MkdirAll(data, 0o755)
	os.WriteFile(filepath.Join(data, "000000001-000000001.tsm"), make([]byte, 100), 0o644)
	os.WriteFile(filepath.Join(wal, "_00001.wal"), make([]byte, 10), 0o644)
	dirs := []string{filepath.Join(dir, "data"), filepath.Join(dir, "wal")}
	state, walBytes := tsmState(dirs)
	if walBytes != 10 || !strings.Contains(state, ".tsm:100") {
		t.Fatalf("state %q, wal %d", state, walBytes)
	}
	if influxSettled(t.Context(), dirs, time.Millisecond, 5*time.Millisecond, 50*time.Millisecond) {
		t.Fatal("settled with WAL bytes left")
	}
	os.WriteFile(filepath.Join(wal, "_00001.wal"), nil, 0o644)
	if !influxSettled(t.Context(), dirs, time.Millisecond, 5*time.Millisecond, time.Second) {
		t.Fatal("not settled with an empty WAL and unchanged TSM files")
	}
	if n, err := suffixBytes(dir, ".tsm"); n != 100 || err != nil {
		t.Fatalf("suffixBytes = %d, %v", n, err)
	}
}

func TestCensus(t *testing.T) {
	dev := func(id string, series int) (d struct {
		ID     string `json:"id"`
		Series []struct {
			Metric string `json:"metric"`
		} `json:"series"`
	}) {
		d.ID = id
		for i := range series {
			d.Series = append(d.Series, struct {
				Metric string `json:"metric"`
			}{fmt.Sprint("m", i)})
		}
		return d
	}
	tests := []struct {
		name string
		devs []int // series per scale- device
		want Census
	}{
		{"complete", []int{10, 10}, Census{Devices: 2, Series: 20, Complete: 2, AllDevices: 3, MinSeries: 10, MaxSeries: 10}},
		{"one short", []int{10, 9}, Census{Devices: 2, Series: 19, Complete: 1, AllDevices: 3, MinSeries: 9, MaxSeries: 10}},
		{"none", nil, Census{AllDevices: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l devicesList
			l.Items = append(l.Items, dev("other-0000", 3))
			for i, n := range tt.devs {
				l.Items = append(l.Items, dev(fmt.Sprintf("scale-%04d", i), n))
			}
			tt.want.WantDevices, tt.want.WantSeries = 2, 10
			if got := census(l, "scale-", 2, 10); got != tt.want {
				t.Errorf("census = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestStorageAndScaleTables(t *testing.T) {
	var b bytes.Buffer
	WriteStorageTable(&b, StorageResult{Devices: 10, Metrics: 2, Seconds: 86400, Points: 1728000, BatchLines: 5000,
		Series: "stor-0000/temperature", Targets: []StorageTarget{
			{Name: "edge", StoredPoints: 1728000, Verified: true, BytesPerPoint: 1.234, Compacted: true,
				Raw: QueryStat{Runs: 20, P50Ms: 7.5, Points: 86400, Source: "raw"}, Avg: QueryStat{Runs: 20, Points: 1440, Source: "rollup:1m"}},
			{Name: "influxdb", StoredPoints: 5, Notes: []string{"a note"}},
		}})
	for _, want := range []string{"1728000 points", "1728000 ok", "5 MISMATCH", "1.234", "7.50", "86400", "1440",
		"rollup:1m", "over 20 runs", "note (influxdb): a note"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("storage table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	WriteScaleTable(&b, ScaleResult{Devices: 1000, Rate: 1, Seconds: 60, Format: "json10", Verified: false,
		Load:     sim.Report{Acked: 60000, P99Ms: 12.5},
		Registry: Census{Devices: 999, Series: 9990, WantSeries: 10}, PeakRSSBytes: 100 << 20, Notes: []string{"short"}})
	for _, want := range []string{"1000 devices, json10 (10 series each)", "60000", "12.50", "9990", "INCOMPLETE", "100.0", "note: short"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("scale table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestParseStatusKB(t *testing.T) {
	status := []byte("VmHWM:\t 2048 kB\nVmRSS:\t 1024 kB\n")
	if n, err := parseStatusKB(status, "VmRSS"); n != 1024<<10 || err != nil {
		t.Fatalf("VmRSS = %d, %v", n, err)
	}
	peak, cur, err := rss(os.Getpid())
	if err != nil || peak < cur || cur < 1<<20 {
		t.Fatalf("rss(self) = %d, %d, %v", peak, cur, err)
	}
}

func TestStorageUnknownTarget(t *testing.T) {
	_, err := Storage(context.Background(), StorageOptions{Devices: 1, Seconds: 60, Targets: []string{"redis"}})
	if err == nil || !strings.Contains(err.Error(), `unknown storage target "redis"`) {
		t.Fatalf("err = %v", err)
	}
}
