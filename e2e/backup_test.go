package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOnlineBackupRestore writes line protocol over HTTP while `edgevault
// backup` takes an encrypted backup of the running node, restores it with
// `edgevault restore` into a new data directory, starts a node on it and
// checks that every point acknowledged before the backup began is there.
func TestOnlineBackupRestore(t *testing.T) {
	dir := t.TempDir()
	n := startEdge(t, filepath.Join(dir, "data"))
	key, file := filepath.Join(dir, "backup.key"), filepath.Join(dir, "edge.evbk")
	edgevault(t, 0, "backup", "--gen-key", "--key-file", key)

	base := time.Now().Add(-2 * time.Hour).UnixMilli()
	w := &lineWriter{url: "http://" + n.http + "/write?db=e2e&precision=ms", base: base}
	done := w.start(t)
	eventually(t, 30*time.Second, "20,000 acknowledged points", func() bool { return t.Failed() || w.count() >= 20_000 })
	if t.Failed() {
		t.FailNow()
	}

	before := w.count()
	start := time.Now()
	out := edgevault(t, 0, "backup", "--url", "http://"+n.http, "--out", file, "--key-file", key)
	took := time.Since(start)
	during := w.count() - before
	done()
	fi, _ := os.Stat(file)
	t.Logf("backup of %d+ points (%d more written during it) in %s, %d bytes: %s", before, during, took, fi.Size(), out)
	if during == 0 {
		t.Error("no writes were acknowledged while the backup ran")
	}

	truncated := filepath.Join(dir, "cut.evbk")
	b, _ := os.ReadFile(file)
	os.WriteFile(truncated, b[:len(b)-100], 0o600)
	out = edgevault(t, 1, "restore", "--in", truncated, "--data", filepath.Join(dir, "bad"), "--key-file", key)
	if !strings.Contains(out, "truncated") {
		t.Errorf("restore of a truncated backup: %s", out)
	}
	restored := filepath.Join(dir, "restored")
	edgevault(t, 0, "restore", "--in", file, "--data", restored, "--key-file", key)
	if ents, _ := os.ReadDir(dir); len(ents) != 5 { // data backup.key edge.evbk cut.evbk restored
		t.Errorf("left in the test directory: %v", ents)
	}
	n.stop()

	r := startEdge(t, restored)
	got := r.query(t, "bk", "seq")
	for k := 0; k < before; k++ {
		if v, ok := got[base+int64(k)]; !ok || v != float64(k) {
			t.Fatalf("point %d of %d acknowledged before the backup: %v, %v", k, before, v, ok)
		}
	}
	if len(got) > w.count() {
		t.Fatalf("restored %d points, only %d were written", len(got), w.count())
	}
	t.Logf("restored %d points (%d acknowledged before the backup)", len(got), before)
	r.stop()
}

// lineWriter posts batches of line protocol for device bk, metric seq
// (value k at base+k ms), counting acknowledged points.
type lineWriter struct {
	url   string
	base  int64
	mu    sync.Mutex // guards acked
	acked int
}

func (w *lineWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

// start writes until the returned function is called.
func (w *lineWriter) start(t *testing.T) (stop func()) {
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		for k := 0; ; k += 500 {
			select {
			case <-quit:
				return
			default:
			}
			var b strings.Builder
			for i := k; i < k+500; i++ {
				fmt.Fprintf(&b, "env,device=bk seq=%d %d\n", i, w.base+int64(i))
			}
			if err := post(w.url, b.String()); err != nil {
				t.Errorf("write at %d: %v", k, err)
				return
			}
			w.mu.Lock()
			w.acked = k + 500
			w.mu.Unlock()
		}
	}()
	return func() { close(quit); <-exited }
}

func post(url, body string) error {
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return nil
}

// edgevault runs the binary and checks its exit code; it returns the output.
func edgevault(t *testing.T, code int, args ...string) string {
	t.Helper()
	out, err := exec.Command(edgeBinary, args...).CombinedOutput()
	got := 0
	if ee, ok := err.(*exec.ExitError); ok {
		got = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("edgevault %v: %v", args, err)
	}
	if got != code {
		t.Fatalf("edgevault %v: exit %d, want %d: %s", args, got, code, out)
	}
	return string(out)
}
