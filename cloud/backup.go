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
	err := backup.Serve(w, s.log, func(out io.Writer) error {
		st, err := backup.Write(r.Context(), out, db, s.cfg.Data, backup.Manifest{Kind: "cloud", Created: s.now().UTC()})
		if err == nil {
			s.log.Info("backup sent", "files", st.Files, "bytes", st.Bytes)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}
