package backup

import (
	"io"
	"log/slog"
	"net/http"
)

// Serve streams the archive that write produces as an HTTP answer (the
// edge's and the cloud's GET /api/v1/admin/backup). An error before the
// first byte is returned, for the caller to answer as JSON. After it, the
// connection is cut, so that the client is left with an archive without
// its end, which every reader rejects.
func Serve(w http.ResponseWriter, log *slog.Logger, write func(io.Writer) error) error {
	w.Header().Set("Content-Type", "application/zstd")
	w.Header().Set("Content-Disposition", `attachment; filename="edgevault-backup.tar.zst"`)
	sw := &startWriter{w: w}
	err := write(sw)
	switch {
	case err == nil:
		return nil
	case !sw.started:
		w.Header().Del("Content-Disposition")
		w.Header().Del("Content-Type")
		return err
	}
	log.Error("backup aborted", "err", err)
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
