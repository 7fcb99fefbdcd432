package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	testEdgeID  = "home-1"
	testSignKey = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
	testDataKey = "d47ad47ad47ad47ad47ad47ad47ad47ad47ad47ad47ad47ad47ad47ad47ad47a"
	// testAdminToken guards the cloud's admin routes.
	testAdminToken = "e2e-admin-token"
)

// cloudProc is one running `edgevault cloud`.
type cloudProc struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
}

// startCloud runs the cloud service on a free port over data, with
// testEdgeID registered, and waits until it listens.
func startCloud(t *testing.T, data string, extra ...string) *cloudProc {
	t.Helper()
	return startCloudYAML(t, data, "", extra...)
}

// startCloudYAML is startCloud with more lines in the cloud's config.
func startCloudYAML(t *testing.T, data, extraYAML string, extra ...string) *cloudProc {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "cloud.yaml")
	yaml := fmt.Sprintf("admin_token: %s\nedges:\n  - {id: %s, sign_key: %q, data_key: %q}\n",
		testAdminToken, testEdgeID, testSignKey, testDataKey) + extraYAML
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"cloud", "--config", conf, "--data", data, "--http", "127.0.0.1:0"}, extra...)
	c := &cloudProc{cmd: exec.Command(edgeBinary, args...), exited: make(chan struct{})}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	c.cmd.Stderr = &syncWriter{w: &logs}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(c.kill)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "edgevault cloud listening on "); ok {
				addr <- a
			}
		}
	}()
	select {
	case c.addr = <-addr:
	case <-c.exited:
		t.Fatalf("cloud exited before listening:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("cloud not listening after 30s")
	}
	return c
}

func (c *cloudProc) kill() {
	select {
	case <-c.exited:
		return
	default:
	}
	c.cmd.Process.Kill()
	<-c.exited
}

func (c *cloudProc) stop(t *testing.T) {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("cloud did not stop on SIGTERM")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Fault modes of the proxy between the edge and the cloud.
const (
	passThrough     int32 = iota
	cloudDown             // connection closed at once, nothing reaches the cloud
	commitThen5xx         // the cloud stores the batch, the edge gets a 502
	commitThenReset       // the cloud stores the batch, the edge's connection is reset
	commitThenHang        // the cloud stores the batch, the answer never comes (the edge times out)
	slowPass              // forwarded after 300 ms, so a drain takes a while
)

// faultProxy stands where the edge thinks the cloud is; it forwards to the
// cloud's current address and injects the failures the uplink must survive.
type faultProxy struct {
	srv      *http.Server
	addr     string
	mode     atomic.Int32
	mu       sync.Mutex // guards target
	target   string
	injected atomic.Int64
}

func startProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	p := &faultProxy{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve)}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *faultProxy) setTarget(a string) {
	p.mu.Lock()
	p.target = a
	p.mu.Unlock()
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	mode := p.mode.Load()
	if mode == cloudDown {
		p.injected.Add(1)
		hijackClose(w)
		return
	}
	p.mu.Lock()
	u := &url.URL{Scheme: "http", Host: p.target}
	p.mu.Unlock()
	if mode == slowPass {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		mode = passThrough
	}
	if mode == passThrough {
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
		return
	}
	// Forward for real, drop the answer.
	rec := &discardWriter{h: http.Header{}}
	httputil.NewSingleHostReverseProxy(u).ServeHTTP(rec, r)
	p.injected.Add(1)
	switch mode {
	case commitThen5xx:
		http.Error(w, "bad gateway (injected)", http.StatusBadGateway)
	case commitThenHang:
		select { // until the edge gives up
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	default:
		hijackClose(w)
	}
}

func hijackClose(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST, not FIN
			}
			c.Close()
		}
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

// edgeConfig writes an edge config whose uplink points at url with short
// timings, so faults and recoveries happen within the test.
func edgeConfig(t *testing.T, url string, extra ...string) string {
	t.Helper()
	return edgeConfigURLs(t, []string{url}, extra...)
}

// edgeConfigURLs is edgeConfig with several cloud URLs, tried in order.
func edgeConfigURLs(t *testing.T, urls []string, extra ...string) string {
	t.Helper()
	quoted := make([]string, len(urls))
	for i, u := range urls {
		quoted[i] = strconv.Quote(u)
	}
	conf := filepath.Join(t.TempDir(), "edge.yaml")
	yaml := fmt.Sprintf(`uplink:
  urls: [%s]
  edge_id: %s
  sign_key: %q
  data_key: %q
  batch_points: 500
  flush_interval: 200ms
  timeout: 2s
  backoff_min: 50ms
  backoff_max: 300ms
`, strings.Join(quoted, ", "), testEdgeID, testSignKey, testDataKey) + strings.Join(extra, "")
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

type uplinkStatus struct {
	BacklogBatches int    `json:"backlog_batches"`
	PendingPoints  int    `json:"pending_points"`
	SentPoints     int64  `json:"sent_points"`
	SentBatches    int64  `json:"sent_batches"`
	LastError      string `json:"last_error"`
	Rejected       []any  `json:"rejected"`
}

func (n *node) uplink(t *testing.T) uplinkStatus {
	t.Helper()
	var st uplinkStatus
	if code := n.get(t, "/api/v1/uplink", &st); code != http.StatusOK {
		t.Fatalf("GET /api/v1/uplink: %d", code)
	}
	return st
}

func (n *node) drained(t *testing.T) bool {
	st := n.uplink(t)
	return st.BacklogBatches == 0 && st.PendingPoints == 0
}

// cloudQuery returns the raw points of one series of testEdgeID in the cloud.
func cloudQuery(t *testing.T, addr, device, metric string) map[int64]any {
	t.Helper()
	cn := &node{t: t, http: addr, token: testAdminToken}
	return cn.queryPath(t, "/api/v1/edges/"+testEdgeID+"/query", device, metric)
}

// TestUplinkFaultsExactlyOnce: readings published at the edge reach the
// cloud exactly once through a cloud outage, answers lost after the cloud
// committed (5xx, connection reset, timeout), a SIGKILL of the edge with
// batches queued and another in the middle of a drain, and a restart of the
// cloud.
func TestUplinkFaultsExactlyOnce(t *testing.T) {
	cloudData := t.TempDir()
	cl := startCloud(t, cloudData)
	px := startProxy(t, cl.addr)
	conf := edgeConfig(t, "http://"+px.addr)
	data := t.TempDir()
	edge := startEdge(t, data, "--config", conf)

	const devices = 3
	sent := 0 // messages per device; each carries two metrics
	burst := func(e *node, n int) {
		t.Helper()
		c := e.client(t, fmt.Sprintf("pub-%d", sent))
		for i := 0; i < n; i++ {
			for d := range devices {
				ts := int64(1_790_000_000_000) + int64(sent)*1000
				publish(t, c, fmt.Sprintf("devices/dev%d/telemetry", d), 1,
					[]byte(fmt.Sprintf(`{"ts": %d, "temperature": %d.25, "humidity": %d}`, ts, sent%40, sent%100)))
			}
			sent++
		}
		c.Disconnect(50)
	}

	burst(edge, 100)
	eventually(t, 20*time.Second, "first readings in the cloud", func() bool { return edge.drained(t) })

	px.mode.Store(cloudDown)
	burst(edge, 100)
	eventually(t, 10*time.Second, "uplink error while the cloud is down", func() bool {
		st := edge.uplink(t)
		return st.LastError != "" && st.BacklogBatches > 0
	})

	px.mode.Store(commitThen5xx)
	eventually(t, 10*time.Second, "answers lost after commit (5xx)", func() bool { return px.injected.Load() > 3 })
	burst(edge, 50)
	px.mode.Store(commitThenReset)
	before := px.injected.Load()
	eventually(t, 10*time.Second, "answers lost after commit (reset)", func() bool { return px.injected.Load() > before+2 })
	px.mode.Store(commitThenHang)
	eventually(t, 15*time.Second, "answer lost after commit (timeout)", func() bool {
		return strings.Contains(edge.uplink(t).LastError, "deadline exceeded")
	})

	// Down again, queue up, kill the edge with work pending and queued.
	px.mode.Store(cloudDown)
	burst(edge, 100)
	st := edge.uplink(t)
	t.Logf("killing the edge with %d batches queued, %d points pending; %d faults injected", st.BacklogBatches, st.PendingPoints, px.injected.Load())
	if st.BacklogBatches == 0 && st.PendingPoints == 0 {
		t.Fatal("nothing unsent at the kill")
	}
	edge.kill()
	first := edge
	edge = startEdge(t, data, "--config", conf)
	burst(edge, 50)

	// The cloud restarts on a new port meanwhile.
	cl.stop(t)
	cl = startCloud(t, cloudData)
	px.setTarget(cl.addr)
	// Kill the edge again in the middle of draining its backlog.
	px.mode.Store(slowPass)
	eventually(t, 30*time.Second, "drain under way", func() bool { return edge.uplink(t).SentBatches > 0 })
	if st := edge.uplink(t); st.BacklogBatches == 0 {
		t.Fatalf("drain finished before the kill: %+v", st)
	}
	edge.kill()
	edge = startEdge(t, data, "--config", conf)
	px.mode.Store(passThrough)
	eventually(t, 60*time.Second, "backlog drained", func() bool { return edge.drained(t) })
	if st := edge.uplink(t); len(st.Rejected) != 0 {
		t.Fatalf("batches rejected: %+v", st.Rejected)
	}

	for d := range devices {
		for _, metric := range []string{"temperature", "humidity"} {
			dev := fmt.Sprintf("dev%d", d)
			local := edge.query(t, dev, metric)
			remote := cloudQuery(t, cl.addr, dev, metric)
			if len(local) != sent || len(remote) != sent {
				var miss []int64
				for ts := range local {
					if _, ok := remote[ts]; !ok {
						miss = append(miss, (ts-1_790_000_000_000)/1000)
					}
				}
				slices.Sort(miss)
				t.Logf("missing message indexes: %v", miss)
				resp, _ := http.Get("http://" + cl.addr + "/metrics")
				b, _ := io.ReadAll(resp.Body)
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, "edgevault_cloud") {
						t.Log(l)
					}
				}
				var st map[string]any
				edge.get(t, "/api/v1/uplink", &st)
				t.Logf("edge uplink: %v", st)
				t.Logf("first edge log:\n%s", first.logText())
				t.Logf("second edge log:\n%s", edge.logText())
				t.Fatalf("%s/%s: edge has %d points, cloud %d, published %d", dev, metric, len(local), len(remote), sent)
			}
			for ts, v := range local {
				if fmt.Sprint(remote[ts]) != fmt.Sprint(v) {
					t.Fatalf("%s/%s at %d: cloud %v, edge %v", dev, metric, ts, remote[ts], v)
				}
			}
		}
	}
}
