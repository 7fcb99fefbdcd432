package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/store"
)

// Bounds of accepted times: years 1 to 9999 in Unix ms, so that defaults and
// bucket arithmetic cannot overflow.
const (
	minTime     = -62135596800000
	maxTime     = 253402300799999
	defaultSpan = int64(time.Hour / time.Millisecond)
	tagPrefix   = "tag."
)

// onlyParams rejects parameters not in allowed (beyond tag.* when "tag."
// is allowed) and repeated parameters.
func onlyParams(q url.Values, allowed ...string) error {
	for k, vs := range q {
		ok := slices.Contains(allowed, k) ||
			(strings.HasPrefix(k, tagPrefix) && slices.Contains(allowed, tagPrefix))
		if !ok {
			return errorf(ErrBadRequest, "unknown parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return errorf(ErrBadRequest, "parameter %q given %d times", k, len(vs))
		}
	}
	return nil
}

// parseTime accepts RFC 3339 or Unix milliseconds.
func parseTime(name, v string) (time.Time, error) {
	ms, err := parseTimeMs(name, v)
	return time.UnixMilli(ms).UTC(), err
}

func parseTimeMs(name, v string) (int64, error) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t, terr := time.Parse(time.RFC3339Nano, v)
		if terr != nil {
			return 0, errorf(ErrBadRequest, "%s: want RFC 3339 or Unix milliseconds, got %q", name, v)
		}
		ms = t.UnixMilli()
	}
	if ms < minTime || ms > maxTime {
		return 0, errorf(ErrBadRequest, "%s: %q is outside years 1 to 9999", name, v)
	}
	return ms, nil
}

// parseStep accepts a Go duration or a whole number of days ("7d").
func parseStep(v string) (int64, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days <= 0 || days > 100_000 {
			return 0, errorf(ErrBadRequest, "step: bad day count %q", v)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, errorf(ErrBadRequest, "step: want a duration like 90s, 5m, 1h or 1d, got %q", v)
		}
	}
	if d < time.Millisecond || d%time.Millisecond != 0 {
		return 0, errorf(ErrBadRequest, "step: %q must be a positive whole number of milliseconds", v)
	}
	return d.Milliseconds(), nil
}

// parseQuery turns /api/v1/query parameters into a store.Query; every error
// wraps ErrBadRequest.
func parseQuery(q url.Values, now time.Time) (store.Query, error) {
	if err := onlyParams(q, "device", "metric", "from", "to", "step", "agg", "limit", tagPrefix); err != nil {
		return store.Query{}, err
	}
	sq := store.Query{Device: q.Get("device"), Metric: q.Get("metric")}
	for _, p := range []struct{ name, v string }{{"device", sq.Device}, {"metric", sq.Metric}} {
		if err := point.ValidName(p.v); err != nil {
			return store.Query{}, errorf(ErrBadRequest, "%s: %v", p.name, err)
		}
	}
	var err error
	if sq.Tags, err = parseTags(q); err != nil {
		return store.Query{}, err
	}
	if sq.From, sq.To, err = parseRange(q.Get("from"), q.Get("to"), now); err != nil {
		return store.Query{}, err
	}
	if err := parseAgg(q.Get("step"), q.Get("agg"), &sq); err != nil {
		return store.Query{}, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxLimit {
			return store.Query{}, errorf(ErrBadRequest, "limit: want an integer 1..%d, got %q", store.MaxLimit, v)
		}
		sq.Limit = n
	}
	return sq, nil
}

func parseTags(q url.Values) ([]point.Tag, error) {
	var tags []point.Tag
	for k := range q {
		key, ok := strings.CutPrefix(k, tagPrefix)
		if !ok {
			continue
		}
		if err := point.ValidName(key); err != nil {
			return nil, errorf(ErrBadRequest, "tag key: %v", err)
		}
		if err := point.ValidName(q.Get(k)); err != nil {
			return nil, errorf(ErrBadRequest, "tag %s: %v", key, err)
		}
		tags = append(tags, point.Tag{Key: key, Value: q.Get(k)})
	}
	point.SortTags(tags)
	return tags, nil
}

func parseRange(fromS, toS string, now time.Time) (from, to int64, err error) {
	to = now.UnixMilli()
	if toS != "" {
		if to, err = parseTimeMs("to", toS); err != nil {
			return 0, 0, err
		}
	}
	from = to - defaultSpan
	if fromS != "" {
		if from, err = parseTimeMs("from", fromS); err != nil {
			return 0, 0, err
		}
	}
	if from >= to {
		return 0, 0, errorf(ErrBadRequest, "from (%d) must be before to (%d)", from, to)
	}
	return from, to, nil
}

func parseAgg(stepS, aggS string, sq *store.Query) error {
	if stepS == "" {
		if aggS != "" {
			return errorf(ErrBadRequest, "agg %q needs a step", aggS)
		}
		return nil
	}
	step, err := parseStep(stepS)
	if err != nil {
		return err
	}
	if buckets := (sq.To - sq.From) / step; buckets > store.MaxLimit {
		return errorf(ErrBadRequest, "step %s makes %d buckets over the range; at most %d", stepS, buckets, store.MaxLimit)
	}
	sq.Step, sq.Agg = step, store.AggAvg
	if aggS != "" {
		if sq.Agg, err = store.ParseAgg(aggS); err != nil {
			return errorf(ErrBadRequest, "agg: %v", err)
		}
	}
	return nil
}

func (s *server) query(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.Query(), s.Now())
	if err != nil {
		return err
	}
	if s.Query == nil {
		return unavailable("query store")
	}
	if rq, ok := s.Query.(rawQuerier); ok && q.Step == 0 {
		return s.queryRaw(w, r, rq, q)
	}
	res, err := s.Query.Query(r.Context(), q)
	if err != nil {
		return err
	}
	next := ""
	if res.Next != 0 {
		next = nextURL(r.URL, "from", strconv.FormatInt(res.Next, 10))
	}
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 32<<10)
	writeAnswer(bw, q, res, next)
	return bw.Flush()
}

// rawQuerier answers raw queries a span at a time (store.DB).
type rawQuerier interface {
	QueryRaw(q store.Query) (*store.RawStream, error)
}

// queryRaw writes a raw answer as the store reads it, a few hours of points
// at a time from reused buffers, instead of materialising the whole page
// first. Numbers and bools come as columns of times and value bits
// (RawStream.EachBits), formatted without making a point.Value each;
// strings come as samples. A failure after the first byte can no longer be
// an error status: the connection is cut, so the client sees a broken
// answer, not a short one.
func (s *server) queryRaw(w http.ResponseWriter, r *http.Request, rq rawQuerier, q store.Query) error {
	st, err := rq.QueryRaw(q)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 32<<10)
	b := appendHead(make([]byte, 0, 32<<10), q, st.Kind, "raw")
	pw := pointWriter{bw: bw, b: b}
	var next int64
	if st.Kind == point.KindString {
		next, err = st.Each(r.Context(), func(pts []store.Sample) error {
			pw.write(pts)
			return nil
		})
	} else {
		next, err = st.EachBits(r.Context(), func(ts []int64, bits []uint64) error {
			pw.writeBits(st.Kind, ts, bits)
			return nil
		})
	}
	if err != nil {
		s.Logger.Warn("raw query failed while answering; connection cut", "device", q.Device, "metric", q.Metric, "err", err)
		panic(http.ErrAbortHandler)
	}
	link := ""
	if next != 0 {
		link = nextURL(r.URL, "from", strconv.FormatInt(next, 10))
	}
	bw.Write(appendTail(pw.b, link))
	return bw.Flush()
}

// pointWriter writes points as [timestamp, value] array elements.
type pointWriter struct {
	bw *bufio.Writer
	b  []byte // pending bytes
	n  int    // points written
	ts point.TimeAppender
}

func (pw *pointWriter) write(pts []store.Sample) {
	b := pw.b
	for _, smp := range pts {
		b = pw.end(smp.V.AppendJSON(pw.start(b, smp.T)))
	}
	pw.b = b
}

// writeBits is write for points of kind k held as times and value bits.
func (pw *pointWriter) writeBits(k point.Kind, ts []int64, bits []uint64) {
	b := pw.b
	bits = bits[:len(ts)]
	for i, t := range ts {
		b = pw.end(point.AppendBitsJSON(pw.start(b, t), k, bits[i]))
	}
	pw.b = b
}

// start appends the opening of the next point, up to its value.
func (pw *pointWriter) start(b []byte, t int64) []byte {
	if pw.n > 0 {
		b = append(b, ',')
	}
	pw.n++
	b = append(b, '[')
	return append(pw.ts.Append(b, t), ',')
}

// end closes a point and hands the pending bytes to bw once there are 16
// KiB of them.
func (pw *pointWriter) end(b []byte) []byte {
	b = append(b, ']')
	if len(b) > 16<<10 {
		pw.bw.Write(b)
		b = b[:0]
	}
	return b
}

// writeAnswer streams the query answer; points can number a million, so it
// does not build them as []any.
func writeAnswer(bw *bufio.Writer, q store.Query, res store.Result, next string) {
	pw := pointWriter{bw: bw, b: appendHead(make([]byte, 0, 256), q, res.Kind, res.Source)}
	pw.write(res.Samples)
	bw.Write(appendTail(pw.b, next))
}

// appendHead appends the answer's fields before its points, up to the
// opening bracket of the points array.
func appendHead(b []byte, q store.Query, kind point.Kind, source string) []byte {
	b = append(b, `{"device":`...)
	b = appendJSON(b, q.Device)
	b = append(b, `,"metric":`...)
	b = appendJSON(b, q.Metric)
	b = append(b, `,"tags":`...)
	tags := map[string]string{}
	for _, t := range q.Tags {
		tags[t.Key] = t.Value
	}
	b = appendJSON(b, tags)
	b = append(b, `,"kind":`...)
	if kind == 0 {
		b = append(b, "null"...)
	} else {
		b = appendJSON(b, kind.String())
	}
	b = append(b, `,"source":`...)
	b = appendJSON(b, source)
	return append(b, `,"points":[`...)
}

// appendTail closes the points array and the answer.
func appendTail(b []byte, next string) []byte {
	b = append(b, `],"next":`...)
	if next == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSON(b, next)
	}
	return append(b, "}\n"...)
}

func appendJSON(b []byte, v any) []byte {
	j, _ := json.Marshal(v) // strings and string maps always marshal
	return append(b, j...)
}
