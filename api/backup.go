package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Backuper writes a consistent backup archive of the store to w (edge.Node;
// the format is in package backup). The API finds it on Deps.Admin, so an
// Admin without it answers 503.
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) error
}

// backup streams the archive. An error before its first byte is answered
// as JSON; after it, the connection is cut, so that the client is left
// with an archive without its end, which every reader rejects.
func (s *server) backup(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	b, ok := s.Admin.(Backuper)
	if !ok {
		return unavailable("backup")
	}
	w.Header().Set("Content-Type", "application/zstd")
	w.Header().Set("Content-Disposition", `attachment; filename="edgevault-backup.tar.zst"`)
	sw := &startWriter{w: w}
	err := b.Backup(r.Context(), sw)
	switch {
	case err == nil:
		return nil
	case !sw.started:
		w.Header().Del("Content-Disposition")
		return fmt.Errorf("backup: %w", err)
	}
	s.Logger.Error("api: backup aborted", "err", err)
	panic(http.ErrAbortHandler)
}

// startWriter records whether anything was written.
type startWriter struct {
	w       io.Writer
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	s.started = true
	return s.w.Write(p)
}
