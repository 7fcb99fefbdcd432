package api

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// influxVersion is the InfluxDB version /ping claims; clients check the
// header's presence, and 1.8 is the v1 API edgevault follows.
const influxVersion = "1.8.10"

// precisions are the /write precisions InfluxDB v1 accepts; "n" is an alias.
var precisions = map[string]string{"": "ns", "n": "ns", "ns": "ns", "u": "u", "ms": "ms", "s": "s", "m": "m", "h": "h"}

// partialWriter is implemented by a LineWriter error that lists bad lines.
type partialWriter interface {
	error
	BadLines() []string
}

func isPartialWrite(err error) bool {
	var p partialWriter
	return errors.As(err, &p) || strings.HasPrefix(err.Error(), "partial write")
}

// write is InfluxDB v1 POST /write: 204 when every line is stored.
func (s *server) write(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Get("db") == "" {
		return errorf(ErrBadRequest, "database is required")
	}
	precision, ok := precisions[q.Get("precision")]
	if !ok {
		return errorf(ErrBadRequest, "precision %q: want ns, u, ms, s, m or h", q.Get("precision"))
	}
	if s.Lines == nil {
		return unavailable("line-protocol writer")
	}
	body, err := s.readWriteBody(w, r)
	if err != nil {
		return err
	}
	if _, err := s.Lines.WriteLines(r.Context(), body, precision); err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			return fmt.Errorf("%w: %v", ErrUnavailable, err) // not durable: the client must retry
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readWriteBody reads the body, gunzipping it when Content-Encoding says so;
// the limit applies to the bytes the writer gets.
func (s *server) readWriteBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var src io.Reader = http.MaxBytesReader(w, r.Body, s.MaxBodyBytes)
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, errorf(ErrBadRequest, "gzip body: %v", err)
		}
		defer zr.Close()
		src = io.LimitReader(zr, s.MaxBodyBytes+1)
	default:
		return nil, errorf(ErrBadRequest, "content encoding %q: want gzip or identity", enc)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= s.MaxBodyBytes {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(src); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, errorf(ErrBadRequest, "read body: %v", err)
	}
	if int64(buf.Len()) > s.MaxBodyBytes {
		return nil, errorf(ErrTooLarge, "body over %d bytes", s.MaxBodyBytes)
	}
	return buf.Bytes(), nil
}

func (s *server) ping(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("X-Influxdb-Version", influxVersion)
	w.Header().Set("X-Influxdb-Build", "OSS")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// createDB matches the CREATE DATABASE statement Telegraf and load tools
// send at start; edgevault has one implicit database, so it is a no-op.
var createDB = regexp.MustCompile(`(?is)^\s*create\s+database\s+("([^"\\]|\\.)+"|[A-Za-z0-9_.\-]+)(\s+with\s+.*)?\s*;?\s*$`)

// influxQuery is InfluxDB v1 POST /query, answering only CREATE DATABASE.
func (s *server) influxQuery(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	if err := r.ParseForm(); err != nil {
		return errorf(ErrBadRequest, "parse form: %v", err)
	}
	stmt := r.Form.Get("q")
	if stmt == "" {
		return errorf(ErrBadRequest, "missing required parameter \"q\"")
	}
	if !createDB.MatchString(stmt) {
		return errorf(ErrBadRequest, "edgevault answers only CREATE DATABASE on /query; query data with GET /api/v1/query")
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": []map[string]int{{"statement_id": 0}}})
	return nil
}
