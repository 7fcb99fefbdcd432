// Package e2e runs the real edgevault binary and talks to it the way users
// do: a real MQTT client over TCP and the REST API over HTTP.
package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgevault/edgevault/internal/pgtest"
)

var edgeBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgevault-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	edgeBinary = filepath.Join(dir, "edgevault")
	build := exec.Command("go", "build", "-o", edgeBinary, "../cmd/edgevault")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build edgevault:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one running edgevault edge process.
type node struct {
	t       *testing.T
	cmd     *exec.Cmd
	data    string
	mqtt    string // host:port
	http    string // host:port
	token   string // bearer token for get, "" for none
	exited  chan struct{}
	mu      sync.Mutex // guards the log
	log     strings.Builder
	waitErr error
}

// startEdge runs `edgevault edge` on free ports over data and waits until
// it reports its addresses.
func startEdge(t *testing.T, data string, extra ...string) *node {
	t.Helper()
	args := append([]string{"edge", "--data", data, "--mqtt", "127.0.0.1:0", "--http", "127.0.0.1:0", "--log-format", "json"}, extra...)
	n := &node{t: t, data: data, exited: make(chan struct{})}
	n.cmd = exec.Command(edgeBinary, args...)
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	go n.readLog(stderr, ready)
	go func() { n.waitErr = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(n.kill)
	select {
	case line := <-ready:
		n.mqtt, _ = line["mqtt"].(string)
		n.http, _ = line["http"].(string)
	case <-n.exited:
		t.Fatalf("edge exited before ready: %v\n%s", n.waitErr, n.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("edge not ready after 30s\n%s", n.logText())
	}
	return n
}

func (n *node) readLog(r io.Reader, ready chan<- map[string]any) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		n.mu.Lock()
		n.log.WriteString(sc.Text() + "\n")
		n.mu.Unlock()
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == "edge node ready" {
			select {
			case ready <- line:
			default:
			}
		}
	}
}

func (n *node) logText() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.log.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (n *node) stop() {
	n.t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
		if n.waitErr != nil {
			n.t.Fatalf("edge exit: %v\n%s", n.waitErr, n.logText())
		}
	case <-time.After(30 * time.Second):
		n.t.Fatalf("edge did not stop on SIGTERM\n%s", n.logText())
	}
}

// kill sends SIGKILL: the crash the store must survive.
func (n *node) kill() {
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Kill()
	<-n.exited
}

func (n *node) client(t *testing.T, id string) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + n.mqtt).SetClientID(id).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, qos byte, payload []byte) {
	t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// get fetches a REST path and decodes the JSON answer into out; it returns
// the status code.
func (n *node) get(t *testing.T, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+n.http+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n.token != "" {
		req.Header.Set("Authorization", "Bearer "+n.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: decode %q: %v", path, body, err)
		}
	}
	return resp.StatusCode
}

type queryAnswer struct {
	Kind   string   `json:"kind"`
	Source string   `json:"source"`
	Points [][2]any `json:"points"`
	Next   any      `json:"next"`
	Error  string   `json:"error"`
}

// query returns the raw points of a series over all time as ts -> value.
func (n *node) query(t *testing.T, device, metric string) map[int64]any {
	t.Helper()
	return n.queryPath(t, "/api/v1/query", device, metric)
}

// queryPath pages through a query API at path (the edge's, or the cloud's
// for one edge).
func (n *node) queryPath(t *testing.T, path, device, metric string) map[int64]any {
	t.Helper()
	out := map[int64]any{}
	from := "0"
	for page := 0; page < 1000; page++ {
		q := url.Values{"device": {device}, "metric": {metric}, "from": {from}, "to": {"4102444800000"}}
		var a queryAnswer
		if code := n.get(t, path+"?"+q.Encode(), &a); code != http.StatusOK {
			t.Fatalf("query %s/%s: status %d: %s", device, metric, code, a.Error)
		}
		for _, p := range a.Points {
			out[int64(p[0].(float64))] = p[1]
		}
		if a.Next == nil || a.Next == "" || a.Next == float64(0) {
			return out
		}
		from = nextFrom(a.Next)
	}
	t.Fatal("query: too many pages")
	return nil
}

// nextFrom accepts the next-page cursor as a number or as a URL with from=.
func nextFrom(next any) string {
	switch v := next.(type) {
	case float64:
		return fmt.Sprint(int64(v))
	case string:
		if u, err := url.Parse(v); err == nil && u.Query().Get("from") != "" {
			return u.Query().Get("from")
		}
		return v
	}
	return fmt.Sprint(next)
}

// eventually retries cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
