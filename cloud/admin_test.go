package cloud

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/batch"
)

func TestAdminEdges(t *testing.T) { testAdminEdges(t, nil) }

// testAdminEdges runs on the embedded store (mod nil) or another backend.
func testAdminEdges(t *testing.T, mod func(*Config)) {
	e := newEnv(t, mod)
	post := func(token string, ec any) int {
		raw, _ := json.Marshal(ec)
		req := httptest.NewRequest("POST", "/api/v1/admin/edges", bytes.NewReader(raw))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return e.do(req).Code
	}
	e3 := edgeConf("e3", 7)
	cases := []struct {
		name  string
		token string
		body  any
		code  int
	}{
		{"no token", "", e3, 403},
		{"wrong token", "nope", e3, 403},
		{"bad id", "s3cret", edgeConf("../x", 7), 400},
		{"short key", "s3cret", EdgeConfig{ID: "e4", SignKey: "abcd", DataKey: e3.DataKey}, 400},
		{"unknown field", "s3cret", map[string]string{"id": "e4", "color": "red"}, 400},
		{"config edge", "s3cret", edgeConf("e1", 7), 409},
		{"new", "s3cret", e3, 201},
		{"re-key", "s3cret", e3, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code := post(tc.token, tc.body); code != tc.code {
				t.Fatalf("register = %d, want %d", code, tc.code)
			}
		})
	}
	if code, res := e.send("e3", 1, 7, walk("d", 5, 1)); code != 200 || res.Stored != 5 {
		t.Fatalf("ingest from registered edge = %d %+v", code, res)
	}
	e.restart()
	if code, res := e.send("e3", 2, 7, walk("d", 5, 1)); code != 200 || res.Acked != 2 {
		t.Fatalf("ingest after restart = %d %+v; registration not persisted?", code, res)
	}
}

func TestAdminDisabled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AdminToken = "" })
	if code, _ := e.get("/api/v1/admin/edges"); code != 403 {
		t.Fatalf("admin without a configured token = %d, want 403", code)
	}
}

func TestParseConfig(t *testing.T) {
	k := edgeConf("x", 1)
	cases := []struct {
		name, yaml string
		want       string // substring of the error, "" for success
	}{
		{"empty", "", ""},
		{"edges", fmt.Sprintf("edges:\n  - id: a\n    sign_key: %s\n    data_key: %s\nskew: 2m\n", k.SignKey, k.DataKey), ""},
		{"base64 keys", "edges:\n  - id: a\n    sign_key: " + strings.Repeat("QUFB", 11) + "\n    data_key: " +
			"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", ""},
		{"unknown key", "htp: x\n", "field htp not found"},
		{"bad id", fmt.Sprintf("edges:\n  - id: 'a b'\n    sign_key: %s\n    data_key: %s\n", k.SignKey, k.DataKey), "edges[0]"},
		{"short data key", fmt.Sprintf("edges:\n  - id: a\n    sign_key: %s\n    data_key: 00ff\n", k.SignKey), "data key"},
		{"duplicate", fmt.Sprintf("edges:\n  - {id: a, sign_key: %s, data_key: %s}\n  - {id: a, sign_key: %s, data_key: %s}\n",
			k.SignKey, k.DataKey, k.SignKey, k.DataKey), "duplicate"},
		{"half tls", "tls: {cert: a.pem}\n", "tls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.HTTP == "" || c.MaxBody == 0 || c.Skew == 0 {
					t.Fatalf("defaults not filled: %+v", c)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func TestAckSet(t *testing.T) {
	cases := []struct {
		name   string
		add    []uint64
		contig uint64
		above  []uint64
	}{
		{"empty", nil, 0, nil},
		{"in order", []uint64{1, 2, 3}, 3, nil},
		{"gap", []uint64{1, 3, 5}, 1, []uint64{3, 5}},
		{"gap filled", []uint64{3, 5, 1, 2, 4}, 5, nil},
		{"duplicates", []uint64{2, 2, 1, 1}, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &ackSet{}
			for _, s := range tc.add {
				a.add(s)
			}
			if a.contig != tc.contig || !slices.Equal(a.above, tc.above) {
				t.Fatalf("set = %d %v, want %d %v", a.contig, a.above, tc.contig, tc.above)
			}
			b, err := decodeAckSet(a.encode())
			if err != nil || b.contig != a.contig || !slices.Equal(b.above, a.above) {
				t.Fatalf("round trip = %+v, %v", b, err)
			}
		})
	}
	a := &ackSet{}
	for s := uint64(2); s < 2+maxAbove+10; s++ {
		a.add(s)
	}
	if len(a.above) != maxAbove || a.has(2) || !a.has(maxAbove+11) {
		t.Fatalf("bounded set: %d entries, has(2)=%v", len(a.above), a.has(2))
	}
	for _, bad := range [][]byte{nil, {0x80}, {0, 1}, {0, 1, 1}, {5, 1, 3, 9}} {
		if _, err := decodeAckSet(bad); err == nil {
			t.Errorf("decodeAckSet(%x) accepted", bad)
		}
	}
}

// TestCommandEndToEnd runs the command on a loopback port, posts a batch
// over real HTTP and queries it back.
func TestCommandEndToEnd(t *testing.T) {
	dir := t.TempDir()
	k := keysOf(1)
	ec := edgeConf("home-1", 1)
	cfgPath := filepath.Join(dir, "cloud.yaml")
	yml := fmt.Sprintf("edges:\n  - id: %s\n    sign_key: %s\n    data_key: %s\n", ec.ID, ec.SignKey, ec.DataKey)
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--config", cfgPath, "--data", filepath.Join(dir, "data"), "--http", "127.0.0.1:0"},
			&stdout, &stderr, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("exited %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit code %d: %s", code, stderr.String())
		}
	}()
	rs := walk("plug", 50, 3)
	now := time.Now()
	for i := range rs {
		rs[i].Time = now.UnixMilli() - int64(len(rs)-i)*1000
	}
	body := seal(t, "home-1", 1, k, rs)
	for attempt := range 2 { // the second is a retry: acknowledged, not stored again
		req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/ingest", bytes.NewReader(body))
		if err := batch.SignRequest(req, body, "home-1", 1, k, time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(got), `"acked":1`) {
			t.Fatalf("attempt %d = %d %s", attempt, resp.StatusCode, got)
		}
	}
	resp, err := http.Get("http://" + addr + "/api/v1/edges/home-1/query?device=plug&metric=temp&from=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a queryAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || len(a.Points) != 50 {
		t.Fatalf("query: %v, %d points, want 50", err, len(a.Points))
	}
}

func TestCommandBadFlags(t *testing.T) {
	var out bytes.Buffer
	if code := Command([]string{"--nope"}, &out, &out); code != 2 {
		t.Fatalf("bad flag exit = %d, want 2", code)
	}
	if code := Command([]string{"--config", "/nonexistent.yaml"}, &out, &out); code != 2 {
		t.Fatalf("missing config exit = %d, want 2", code)
	}
}

func TestCommandTLS(t *testing.T) {
	dir := t.TempDir()
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	cert := ts.TLS.Certificates[0]
	ts.Close()
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	cfgPath := filepath.Join(dir, "cloud.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf("tls: {cert: %s, key: %s}\n", certPath, keyPath)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan int, 1)
	var out bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--config", cfgPath, "--data", dir, "--http", "127.0.0.1:0"}, io.Discard, &out, ready)
	}()
	defer func() { cancel(); <-done }()
	var addr string
	select {
	case addr = <-ready:
	case <-done:
		t.Fatalf("exited: %s", out.String())
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("healthz over TLS = %d, tls %v", resp.StatusCode, resp.TLS != nil)
	}
}
