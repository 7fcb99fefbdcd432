package cloud

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/edgevault/edgevault/backup"
)

// TestBackup takes a backup over the admin route, restores it into a new
// data directory and opens a cloud service on it: the readings and the
// acknowledged sequences are there.
func TestBackup(t *testing.T) {
	e := newEnv(t, nil)
	if code, _ := e.send("e1", 1, 1, walk("d1", 300, 20)); code != 200 {
		t.Fatalf("ingest: %d", code)
	}
	if rec := e.do(httptest.NewRequest("GET", backup.Path, nil)); rec.Code != 403 {
		t.Fatalf("without token: %d %s", rec.Code, rec.Body)
	}
	if code, body := e.get(backup.Path + "?x=1"); code != 400 {
		t.Fatalf("with a parameter: %d %s", code, body)
	}
	code, body := e.get(backup.Path)
	if code != 200 {
		t.Fatalf("backup: %d %s", code, body)
	}
	target := filepath.Join(t.TempDir(), "restored")
	res, err := backup.Restore(context.Background(), bytes.NewReader(body), nil, target, false)
	if err != nil || res.Manifest.Kind != "cloud" || !res.Manifest.Created.Equal(t0) {
		t.Fatalf("restore: %+v %v", res, err)
	}
	r := &env{t: t, dir: target, now: t0, cfg: e.cfg}
	r.cfg.Data = target
	r.open()
	t.Cleanup(func() { r.srv.Close() })
	if got := len(r.query("e1", "d1").Points); got != 300 {
		t.Fatalf("restored cloud has %d points, want 300", got)
	}
	if code, res := r.send("e1", 1, 1, walk("d1", 300, 20)); code != 200 || !res.Duplicate {
		t.Fatalf("resend of an acknowledged batch: %d %+v", code, res)
	}
}
