package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgevault/edgevault/batch"
)

// drainProxy stands where the edge's uplink thinks the cloud is. While down
// it answers 503, which the uplink retries; once opened it forwards every
// request to the cloud and tallies what crossed the wire, reading each
// batch's clear header (batch.PeekHeader) for its kind and item count.
type drainProxy struct {
	target  string // cloud base URL
	client  *http.Client
	up      atomic.Bool
	refused atomic.Int64 // requests answered 503 while down

	mu       sync.Mutex // guards the following
	goal     int64      // items (readings + records) queued when opened
	acked    int64      // items in acknowledged batches, duplicates excluded
	opened   time.Time
	first    time.Time // first request forwarded
	doneAt   time.Time // acked reached goal: the backlog is in the cloud
	backlog  WireTally // batches that were queued when opened
	after    WireTally // batches cut after opening (live load, records)
	failed   int64     // forwarded requests not answered with an ack
	dups     int64     // acks of batches the cloud already had
	rejected int64     // readings the cloud refused (stored nothing for them)
}

// WireTally is what a set of acknowledged batches took on the wire.
// Telemetry and other kinds (registry records and the like) are kept apart
// so that bytes per point count telemetry only.
type WireTally struct {
	Batches     int64 `json:"batches"`      // telemetry batches
	Points      int64 `json:"points"`       // readings in them
	BodyBytes   int64 `json:"body_bytes"`   // their request bodies (sealed batches)
	HeaderBytes int64 `json:"header_bytes"` // their HTTP request line and headers
	Other       int64 `json:"other_batches"`
	OtherItems  int64 `json:"other_items"`
	OtherBytes  int64 `json:"other_bytes"` // bodies and headers of the other batches
	// CloudSeconds is the time the cloud took to answer these batches,
	// from forwarding the request to the last byte of the answer.
	CloudSeconds float64 `json:"cloud_seconds"`
}

func (t *WireTally) add(kind string, items int64, body, header int, took time.Duration) {
	t.CloudSeconds += took.Seconds()
	if kind != batch.KindTelemetry {
		t.Other++
		t.OtherItems += items
		t.OtherBytes += int64(body + header)
		return
	}
	t.Batches++
	t.Points += items
	t.BodyBytes += int64(body)
	t.HeaderBytes += int64(header)
}

func newDrainProxy(target string) *drainProxy {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	return &drainProxy{target: target, client: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// open lets requests through from now on; the drain is done once goal items
// are acknowledged.
func (p *drainProxy) open(goal int64) time.Time {
	p.mu.Lock()
	p.goal, p.opened = goal, time.Now()
	p.mu.Unlock()
	p.up.Store(true)
	return p.opened
}

// done returns when the backlog was acknowledged, zero until then.
func (p *drainProxy) done() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doneAt
}

func (p *drainProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.up.Load() {
		p.refused.Add(1)
		http.Error(w, "cloud down (bench drain outage)", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	if p.first.IsZero() {
		p.first = time.Now()
	}
	p.mu.Unlock()
	t0 := time.Now()
	status, hdr, answer, err := p.forward(r, body)
	took := time.Since(t0)
	if err != nil {
		p.mu.Lock()
		p.failed++
		p.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	p.tally(r, body, status, answer, took)
	for k, v := range hdr {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	w.Write(answer)
}

func (p *drainProxy) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, answer, err
}

// tally counts an answered batch: only acks count, and an ack of a batch
// the cloud already had counts as a duplicate, not again.
func (p *drainProxy) tally(r *http.Request, body []byte, status int, answer []byte, took time.Duration) {
	var ack struct {
		Acked     *uint64 `json:"acked"`
		Duplicate bool    `json:"duplicate"`
		Rejected  int64   `json:"rejected"`
	}
	h, herr := batch.PeekHeader(body)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case herr != nil || status/100 != 2 || json.Unmarshal(answer, &ack) != nil || ack.Acked == nil:
		p.failed++
		return
	case ack.Duplicate:
		p.dups++
		return
	}
	t := &p.after
	if p.acked < p.goal {
		t = &p.backlog
	}
	t.add(h.Kind, int64(h.Count), len(body), requestHeaderSize(r), took)
	p.rejected += ack.Rejected
	p.acked += int64(h.Count)
	if p.doneAt.IsZero() && p.acked >= p.goal {
		p.doneAt = time.Now()
	}
}

// requestHeaderSize is the size of the request line and headers as the
// client sent them (HTTP/1.1; the server moved Host out of the header map).
func requestHeaderSize(r *http.Request) int {
	var c countWriter
	r.Header.Write(&c)
	return len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2 + len("Host: \r\n") + len(r.Host) + int(c) + 2
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// DataSizes is the size of the loaded data in other encodings, for the
// bytes-per-point comparison.
type DataSizes struct {
	Points       int64 `json:"points"`
	LineProtocol int64 `json:"line_protocol_bytes"` // the POST /write bodies, precision s
	// JSONPoint: one object per point,
	// {"device":"drain-0000","metric":"temperature","ts":1795737600000,"value":21.02}.
	JSONPoint int64 `json:"json_point_bytes"`
	// JSONDeviceSecond: one object per device and second, as an MQTT
	// payload whose topic names the device (topic not counted),
	// {"ts":1795737600000,"temperature":21.02,"humidity":44.97}.
	JSONDeviceSecond int64 `json:"json_device_second_bytes"`
}

// sizer adds up DataSizes line by line; scratch is reused.
type sizer struct {
	DataSizes
	names   []string
	scratch []byte
}

// line is a walkGen callback.
func (s *sizer) line(dev int, sec int64, hundredths []int64) {
	ms := sec * 1000
	for m, v := range hundredths {
		s.scratch = appendPointJSON(s.scratch[:0], s.names[dev], storageMetrics[m].name, ms, v)
		s.JSONPoint += int64(len(s.scratch))
	}
	s.scratch = appendDeviceSecondJSON(s.scratch[:0], ms, hundredths)
	s.JSONDeviceSecond += int64(len(s.scratch))
	s.Points += int64(len(hundredths))
}

// appendPointJSON writes one point as encoding/json would marshal
// {device, metric, ts, value}; values in the shortest form (21 for 21.00).
func appendPointJSON(buf []byte, device, metric string, ms, hundredths int64) []byte {
	buf = append(buf, `{"device":`...)
	buf = strconv.AppendQuote(buf, device)
	buf = append(buf, `,"metric":`...)
	buf = strconv.AppendQuote(buf, metric)
	buf = append(buf, `,"ts":`...)
	buf = strconv.AppendInt(buf, ms, 10)
	buf = append(buf, `,"value":`...)
	buf = strconv.AppendFloat(buf, float64(hundredths)/100, 'f', -1, 64)
	return append(buf, '}')
}

// appendDeviceSecondJSON writes one device's readings of one second as an
// object keyed by metric.
func appendDeviceSecondJSON(buf []byte, ms int64, hundredths []int64) []byte {
	buf = append(buf, `{"ts":`...)
	buf = strconv.AppendInt(buf, ms, 10)
	for m, v := range hundredths {
		buf = append(buf, ',')
		buf = strconv.AppendQuote(buf, storageMetrics[m].name)
		buf = append(buf, ':')
		buf = strconv.AppendFloat(buf, float64(v)/100, 'f', -1, 64)
	}
	return append(buf, '}')
}

// cpuSeconds is the user and system CPU time a process has used
// (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time: %w", err)
	}
	// The command name may hold spaces; the fields count from after it.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("cpu time: malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("cpu time: malformed /proc/%d/stat", pid)
	}
	return float64(utime+stime) / 100, nil
}

// loadAvg is the first three fields of /proc/loadavg, "" if unreadable.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// rssSampler keeps the highest VmRSS of each process seen since the last
// take.
type rssSampler struct {
	pids map[string]int // set before run

	mu   sync.Mutex // guards peak
	peak map[string]int64
}

func (s *rssSampler) run(stop <-chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for name, pid := range s.pids {
			if _, cur, err := rss(pid); err == nil {
				s.mu.Lock()
				s.peak[name] = max(s.peak[name], cur)
				s.mu.Unlock()
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// take returns the peaks since the last take and starts over.
func (s *rssSampler) take() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peak
	s.peak = map[string]int64{}
	return p
}
