package api

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/edgevault/edgevault/backup"
)

// Backuper writes a consistent backup archive of the store to w (edge.Node;
// the format is in package backup). The API finds it on Deps.Admin, so an
// Admin without it answers 503.
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) error
}

// backup streams the archive (backup.Serve).
func (s *server) backup(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	b, ok := s.Admin.(Backuper)
	if !ok {
		return unavailable("backup")
	}
	err := backup.Serve(w, s.Logger, func(out io.Writer) error { return b.Backup(r.Context(), out) })
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}
