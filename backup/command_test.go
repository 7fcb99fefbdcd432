package backup

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve answers GET /api/v1/admin/backup with a backup of the store under
// data, as the edge node and the cloud service do.
func serve(t *testing.T, data string, token string) *httptest.Server {
	db := openStore(t, data)
	fill(t, db, 200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path || r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":"forbidden: bad admin token"}`))
			return
		}
		if _, err := Write(r.Context(), w, db, data, Manifest{Kind: "cloud", Created: t0}); err != nil {
			t.Errorf("write: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Command(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	srv := serve(t, t.TempDir(), "tok")
	dir := t.TempDir()
	key, other := filepath.Join(dir, "key"), filepath.Join(dir, "other")
	file, target := filepath.Join(dir, "b.evbk"), filepath.Join(dir, "data")
	steps := []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"gen key", []string{"backup", "--gen-key", "--key-file", key}, 0, "wrote a new backup key"},
		{"gen key again", []string{"backup", "--gen-key", "--key-file", key}, 1, "file exists"},
		{"other key", []string{"backup", "--gen-key", "--key-file", other}, 0, ""},
		{"no out", []string{"backup", "--url", srv.URL}, 2, "--out is required"},
		{"bad token", []string{"backup", "--url", srv.URL, "--out", file, "--token", "nope"}, 1, "403 Forbidden: forbidden: bad admin token"},
		{"backup", []string{"backup", "--url", srv.URL, "--out", file, "--key-file", key, "--token", "tok"}, 0, "cloud snapshot of 2026-03-01T00:00:00Z"},
		{"out exists", []string{"backup", "--url", srv.URL, "--out", file, "--token", "tok"}, 1, "already exists"},
		{"restore without key", []string{"restore", "--in", file, "--data", target}, 1, "encrypted: a key file is needed"},
		{"restore wrong key", []string{"restore", "--in", file, "--data", target, "--key-file", other}, 1, "wrong backup key"},
		{"check", []string{"restore", "--in", file, "--check", "--key-file", key}, 0, "intact cloud backup"},
		{"restore", []string{"restore", "--in", file, "--data", target, "--key-file", key}, 0, "3 series"},
		{"restore again", []string{"restore", "--in", file, "--data", target, "--key-file", key}, 1, "not empty"},
		{"restore no flags", []string{"restore"}, 2, "are required"},
	}
	for _, st := range steps {
		code, out, errs := run(st.args...)
		if code != st.code || !strings.Contains(out+errs, st.want) {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q; want %d with %q", st.name, code, out, errs, st.code, st.want)
		}
	}
	checkPoints(t, target, 200)
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	if left := listing(t, dir); strings.Contains(strings.Join(left, " "), ".partial-") ||
		strings.Contains(strings.Join(left, " "), ".restore-") {
		t.Fatalf("temporary files left: %v", left)
	}
}

// TestBackupCutOff: a server that stops in the middle leaves no file.
func TestBackupCutOff(t *testing.T) {
	src := t.TempDir()
	db := openStore(t, src)
	fill(t, db, 200)
	data := archiveOf(t, db, src)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(data[:len(data)*2/3])
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	dir := t.TempDir()
	code, _, errs := run("backup", "--url", srv.URL, "--out", filepath.Join(dir, "b"))
	if code != 1 || !strings.Contains(errs, "truncated") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if left := listing(t, dir); len(left) != 0 {
		t.Fatalf("left %v", left)
	}
}
