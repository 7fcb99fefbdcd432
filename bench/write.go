package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/edgevault/edgevault/sim"
)

// WriteOptions configure `bench write`. Zero values take the defaults noted.
type WriteOptions struct {
	Batches    int      // POSTs per target; 0 means 20
	BatchLines int      // lines per POST; 0 means 5000
	Series     int      // distinct devices; 0 means 100
	EdgeBin    string   // edgevault binary; "" means os.Executable()
	Targets    []string // "edge", "influxdb"; nil means both
	Rounds     int      // runs of every target, order alternating per round; 0 means 1
	Log        *slog.Logger
	Now        func() time.Time
}

func (o *WriteOptions) defaults() {
	o.Batches = orDefault(o.Batches, 20)
	o.BatchLines = orDefault(o.BatchLines, 5000)
	o.Series = orDefault(o.Series, 100)
	o.Rounds = orDefault(o.Rounds, 1)
	if o.Targets == nil {
		o.Targets = []string{"edge", "influxdb"}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// fieldsPerLine is the number of fields (points) of every generated line.
const fieldsPerLine = 5

// WriteTarget is the outcome of the write load against one server.
type WriteTarget struct {
	Name         string  `json:"name"`
	Round        int     `json:"round"`
	Batches      int     `json:"batches"`
	Points       int64   `json:"points"`
	Seconds      float64 `json:"seconds"`
	PointsPerSec float64 `json:"points_per_sec"`
	P50Ms        float64 `json:"batch_p50_ms"`
	P99Ms        float64 `json:"batch_p99_ms"`
	PeakRSSBytes int64   `json:"peak_rss_bytes,omitempty"`
	// Points counted back (edge: REST queries; influxdb: SELECT count(*)),
	// and whether that is Points.
	StoredPoints int64    `json:"stored_points,omitempty"`
	Verified     bool     `json:"verified"`
	Notes        []string `json:"notes,omitempty"`
}

func (t WriteTarget) name() string { return t.Name }

// WriteResult is the outcome of `bench write`.
type WriteResult struct {
	BatchLines int           `json:"batch_lines"`
	Series     int           `json:"series"`
	Targets    []WriteTarget `json:"targets"`
	// Ratio is the median edge points/s over the median influxdb points/s
	// across rounds; 0 unless both ran.
	Ratio float64 `json:"ratio_edge_influxdb"`
}

// Write runs the line-protocol write benchmark against each target in turn,
// Rounds times.
func Write(ctx context.Context, o WriteOptions) (WriteResult, error) {
	o.defaults()
	res := WriteResult{BatchLines: o.BatchLines, Series: o.Series}
	startMS := o.Now().Add(-time.Hour).UnixMilli()
	bodies := LineBatches(o.Batches, o.BatchLines, o.Series, startMS)
	for round := 1; round <= o.Rounds; round++ {
		for _, name := range roundOrder(o.Targets, round) {
			t, err := writeTarget(ctx, o, name, bodies, startMS)
			if err != nil {
				return res, err
			}
			t.Round = round
			res.Targets = append(res.Targets, t)
		}
	}
	res.Ratio = ratio(res.Targets, "edge", "influxdb", func(t WriteTarget) float64 { return t.PointsPerSec })
	return res, nil
}

// writeTarget starts a fresh server, POSTs every batch to it and stops it.
func writeTarget(ctx context.Context, o WriteOptions, name string, bodies [][]byte, startMS int64) (WriteTarget, error) {
	var p *peer
	var err error
	o.Log.Info("starting", "target", name)
	switch name {
	case "edge":
		p, _, err = startEdge(ctx, o.EdgeBin)
	case "influxdb":
		p, err = startInflux(ctx, "bench")
	default:
		err = fmt.Errorf("unknown write target %q (want edge or influxdb)", name)
	}
	if err != nil {
		return WriteTarget{}, err
	}
	defer p.close()
	o.Log.Info("load", "target", name, "batches", o.Batches)
	t, err := postBatches(ctx, "http://"+p.addr+"/write?db=bench", bodies, o.BatchLines)
	t.Name = name
	if err != nil {
		return t, fmt.Errorf("%s write: %w", name, err)
	}
	if t.PeakRSSBytes, err = peakRSS(p.pid()); err != nil {
		t.Notes = append(t.Notes, err.Error())
	}
	switch name {
	case "edge":
		err = t.verify(ctx, "http://"+p.addr, o.Series, startMS, o.Now().UnixMilli()+1)
	case "influxdb":
		err = t.verifyInflux(ctx, p.addr)
	}
	if err != nil {
		return t, fmt.Errorf("%s verify: %w", name, err)
	}
	return t, nil
}

// verify counts the written points back over REST.
func (t *WriteTarget) verify(ctx context.Context, base string, series int, from, to int64) error {
	ids := make([]string, series)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%04d", i)
	}
	n, err := storedPoints(ctx, base, ids, from, to)
	if err != nil {
		return err
	}
	t.StoredPoints, t.Verified = n, n == t.Points
	if !t.Verified {
		t.Notes = append(t.Notes, fmt.Sprintf("stored %d points, wrote %d", n, t.Points))
	}
	return nil
}

// verifyInflux counts the written points with SELECT count(*): one count
// per field, which sum to the points.
func (t *WriteTarget) verifyInflux(ctx context.Context, addr string) error {
	n, err := influxCount(ctx, addr, "SELECT count(*) FROM bench..env")
	if err != nil {
		return err
	}
	t.StoredPoints, t.Verified = n, n == t.Points
	if !t.Verified {
		t.Notes = append(t.Notes, fmt.Sprintf("stored %d points, wrote %d", n, t.Points))
	}
	return nil
}

// influxCount runs a SELECT count(..) statement and sums every count in
// the answer.
func influxCount(ctx context.Context, addr, stmt string) (int64, error) {
	body, err := influxGet(ctx, addr, stmt)
	if err != nil {
		return 0, err
	}
	var r struct {
		Results []struct {
			Series []struct{ Values [][]any } `json:"series"`
		} `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return 0, fmt.Errorf("decode count: %w", err)
	}
	var n int64
	for _, res := range r.Results {
		for _, s := range res.Series {
			for _, row := range s.Values {
				for _, v := range row[1:] { // row[0] is the time
					if c, ok := v.(json.Number); ok {
						i, _ := c.Int64()
						n += i
					}
				}
			}
		}
	}
	return n, nil
}

// postBatches POSTs every body in turn over one keep-alive connection and
// expects 204 No Content for each.
func postBatches(ctx context.Context, url string, bodies [][]byte, lines int) (WriteTarget, error) {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	var t WriteTarget
	lat := make([]time.Duration, 0, len(bodies))
	start := time.Now()
	for _, body := range bodies {
		t0 := time.Now()
		if err := postOne(ctx, c, url, body); err != nil {
			return t, fmt.Errorf("batch %d: %w", t.Batches, err)
		}
		lat = append(lat, time.Since(t0))
		t.Batches++
		t.Points += int64(lines * fieldsPerLine)
	}
	t.Seconds = time.Since(start).Seconds()
	if t.Seconds > 0 {
		t.PointsPerSec = float64(t.Points) / t.Seconds
	}
	slices.Sort(lat)
	t.P50Ms = float64(sim.Percentile(lat, 50).Microseconds()) / 1e3
	t.P99Ms = float64(sim.Percentile(lat, 99).Microseconds()) / 1e3
	return t, nil
}

func postOne(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20)) // drain: keeps the connection alive
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("status %s: %.300s", resp.Status, msg)
	}
	return nil
}

// LineBatches builds batches of line protocol, lines lines each, spread
// over series devices. Global line g belongs to device g mod series and is
// stamped startMS + g/series ms (written in ns), so no series repeats a
// timestamp and every point is a new one:
//
//	env,device=bench-0007 temperature=21.37,humidity=40.12,pressure=1013.25,co2=412i,battery=97i 1795856400000000000
func LineBatches(batches, lines, series int, startMS int64) [][]byte {
	out := make([][]byte, batches)
	vals := make([]float64, series)
	for i := range vals {
		vals[i] = 20 + float64(i%50)/10
	}
	g := 0
	for b := range out {
		buf := make([]byte, 0, lines*110)
		for range lines {
			dev := g % series
			vals[dev] += float64(g%7-3) / 100
			buf = appendLine(buf, dev, vals[dev], (startMS+int64(g/series))*int64(time.Millisecond))
			g++
		}
		out[b] = buf
	}
	return out
}

func appendLine(buf []byte, dev int, v float64, ns int64) []byte {
	buf = fmt.Appendf(buf, "env,device=bench-%04d temperature=", dev)
	buf = strconv.AppendFloat(buf, v, 'f', 2, 64)
	buf = append(buf, ",humidity="...)
	buf = strconv.AppendFloat(buf, 40+v/10, 'f', 2, 64)
	buf = append(buf, ",pressure="...)
	buf = strconv.AppendFloat(buf, 1000+v, 'f', 2, 64)
	buf = append(buf, ",co2="...)
	buf = strconv.AppendInt(buf, 400+int64(dev), 10)
	buf = append(buf, "i,battery="...)
	buf = strconv.AppendInt(buf, int64(90+dev%10), 10)
	buf = append(buf, "i "...)
	buf = strconv.AppendInt(buf, ns, 10)
	return append(buf, '\n')
}
