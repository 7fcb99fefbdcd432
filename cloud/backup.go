package cloud

import (
	"fmt"
	"io"
	"net/http"

	"github.com/edgevault/edgevault/backup"
)

// backup serves GET /api/v1/admin/backup: a consistent archive of the
// embedded store (package backup has the format), taken while ingest goes
// on. It needs the admin token. Other backends have their own backup tools
// and answer 501.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) error {
	if err := s.admin(r); err != nil {
		return err
	}
	if len(r.URL.Query()) > 0 {
		return fmt.Errorf("%w: backup takes no parameters", ErrBadRequest)
	}
	db, ok := s.db.(backup.Snapshotter)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, map[string]string{
			"error": "backup: this storage backend is backed up with its own tools", "code": "not_implemented"})
		return nil
	}
	w.Header().Set("Content-Type", "application/zstd")
	sw := &startWriter{w: w}
	st, err := backup.Write(r.Context(), sw, db, s.cfg.Data, backup.Manifest{Kind: "cloud", Created: s.now().UTC()})
	switch {
	case err == nil:
		s.log.Info("backup sent", "files", st.Files, "bytes", st.Bytes)
		return nil
	case !sw.started:
		return fmt.Errorf("backup: %w", err)
	}
	// The archive lacks its end; cutting the connection makes that plain.
	s.log.Error("backup aborted", "err", err)
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
