package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/edgevault/edgevault/sim"
)

// fetchResult is one timed execution of a query.
type fetchResult struct {
	wall   time.Duration // HTTP wall time, summed over pages; decoding excluded
	points int
	bytes  int
	source string
}

// benchQuery is one of the two timed queries of a target.
type benchQuery struct {
	desc  string
	want  int
	fetch func(ctx context.Context, c *http.Client) (fetchResult, error)
}

// queries times the raw and the 1-minute average query of t's server.
func (r storageRun) queries(ctx context.Context, log *slog.Logger, t *StorageTarget, qs [2]benchQuery) error {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	for i, dst := range []*QueryStat{&t.Raw, &t.Avg} {
		log.Info("timing query", "query", qs[i].desc, "runs", r.o.Runs)
		st, err := timeQuery(ctx, c, qs[i], r.o.Runs)
		if err != nil {
			return fmt.Errorf("query %s: %w", qs[i].desc, err)
		}
		*dst = st
	}
	return nil
}

// timeQuery runs q once to warm up, then runs times, checking the count
// every time.
func timeQuery(ctx context.Context, c *http.Client, q benchQuery, runs int) (QueryStat, error) {
	st := QueryStat{Query: q.desc, Runs: runs}
	lat := make([]time.Duration, 0, runs)
	for i := range runs + 1 {
		f, err := q.fetch(ctx, c)
		if err != nil {
			return st, err
		}
		if err := checkCount(q.desc, f.points, q.want); err != nil {
			return st, err
		}
		st.Points, st.Bytes, st.Source = f.points, f.bytes, f.source
		if i > 0 {
			lat = append(lat, f.wall)
		}
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	st.P50Ms, st.P99Ms, st.MinMs = ms(sim.Percentile(lat, 50)), ms(sim.Percentile(lat, 99)), ms(lat[0])
	return st, nil
}

// edgeQueries are GET /api/v1/query of one series, raw and 1m averages.
func edgeQueries(addr string, r storageRun) [2]benchQuery {
	base := "http://" + addr
	q := url.Values{"device": {r.device}, "metric": {r.metric}, "from": {strconv.FormatInt(r.from, 10)},
		"to": {strconv.FormatInt(r.to, 10)}, "limit": {"100000"}}
	raw := "/api/v1/query?" + q.Encode()
	q.Del("limit")
	q.Set("step", "1m")
	q.Set("agg", "avg")
	avg := "/api/v1/query?" + q.Encode()
	return [2]benchQuery{
		{desc: "GET " + raw, want: r.o.Seconds, fetch: edgeFetch(base, raw, r.from, r.to)},
		{desc: "GET " + avg, want: r.o.Seconds / 60, fetch: edgeFetch(base, avg, r.from, r.to)},
	}
}

// edgeFetch GETs path and every next page after it.
func edgeFetch(base, path string, from, to int64) func(context.Context, *http.Client) (fetchResult, error) {
	var buf bytes.Buffer
	return func(ctx context.Context, c *http.Client) (fetchResult, error) {
		var f fetchResult
		for next := path; next != ""; {
			body, wall, err := timedGet(ctx, c, base+next, &buf)
			if err != nil {
				return f, err
			}
			n, src, nxt, err := parseEdgePage(body, from, to)
			if err != nil {
				return f, err
			}
			f.wall, f.points, f.bytes, f.source, next = f.wall+wall, f.points+n, f.bytes+len(body), src, nxt
		}
		return f, nil
	}
}

// influxQueries are the InfluxQL equivalents, epoch=ms.
func influxQueries(addr string, r storageRun) [2]benchQuery {
	where := fmt.Sprintf(`WHERE "device" = '%s' AND time >= '%s' AND time < '%s'`, r.device,
		time.UnixMilli(r.from).UTC().Format(time.RFC3339), time.UnixMilli(r.to).UTC().Format(time.RFC3339))
	raw := fmt.Sprintf(`SELECT %q FROM "env" %s`, r.metric, where)
	avg := fmt.Sprintf(`SELECT mean(%q) FROM "env" %s GROUP BY time(1m)`, r.metric, where)
	base := "http://" + addr
	return [2]benchQuery{
		{desc: raw, want: r.o.Seconds, fetch: influxFetch(base, raw)},
		{desc: avg, want: r.o.Seconds / 60, fetch: influxFetch(base, avg)},
	}
}

func influxFetch(base, stmt string) func(context.Context, *http.Client) (fetchResult, error) {
	u := base + "/query?" + url.Values{"db": {"bench"}, "epoch": {"ms"}, "q": {stmt}}.Encode()
	var buf bytes.Buffer
	return func(ctx context.Context, c *http.Client) (fetchResult, error) {
		body, wall, err := timedGet(ctx, c, u, &buf)
		if err != nil {
			return fetchResult{}, err
		}
		n, err := parseInfluxRows(body)
		return fetchResult{wall: wall, points: n, bytes: len(body)}, err
	}
}

// timedGet GETs u and reads the whole body into buf, which it empties
// first; body is buf's bytes, valid until buf's next use. wall is the time
// from sending the request to the last byte read. The buffer is kept from
// run to run, as a client that fetches big answers would: read with
// io.ReadAll, every 1.8 MB answer allocated 4 MB of growing copies and cost
// the bench process a collection, and the time measured doubled (p50 8.2
// against 3.9 ms for the edge's one-day answer, p99 48 against 8 ms, the
// same server), which is the client's cost and not the server's.
func timedGet(ctx context.Context, c *http.Client, u string, buf *bytes.Buffer) (body []byte, wall time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	body, wall = buf.Bytes(), time.Since(t0)
	if err != nil {
		return nil, wall, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, wall, fmt.Errorf("status %s: %.300s", resp.Status, body)
	}
	return body, wall, nil
}
