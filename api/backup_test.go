package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
)

// backupAdmin is an Admin that can back up: it writes body or fails.
type backupAdmin struct {
	fakeAdmin
	body string
	err  error
}

func (a *backupAdmin) Backup(_ context.Context, w io.Writer) error {
	if a.err != nil {
		return a.err
	}
	_, err := io.WriteString(w, a.body)
	return err
}

func TestBackupRoute(t *testing.T) {
	cases := []struct {
		name   string
		admin  Admin
		target string
		code   int
		ctype  string
	}{
		{"archive", &backupAdmin{body: "archive"}, "/api/v1/admin/backup", 200, "application/zstd"},
		{"snapshot fails", &backupAdmin{err: errors.New("disk full")}, "/api/v1/admin/backup", 500, "application/json"},
		{"admin without backup", &fakeAdmin{}, "/api/v1/admin/backup", 503, "application/json"},
		{"unknown parameter", &backupAdmin{body: "archive"}, "/api/v1/admin/backup?x=1", 400, "application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Deps{Admin: tc.admin, Logger: slog.New(slog.DiscardHandler)})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tc.target, nil))
			if rec.Code != tc.code || rec.Header().Get("Content-Type") != tc.ctype {
				t.Fatalf("status %d type %q body %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			if tc.code == 200 && rec.Body.String() != "archive" {
				t.Fatalf("body %q", rec.Body)
			}
		})
	}
}
