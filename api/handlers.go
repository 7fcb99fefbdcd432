package api

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/edgevault/edgevault/deadletter"
	"github.com/edgevault/edgevault/registry"
)

//go:embed openapi.yaml
var openapiDoc []byte

func (s *server) health(w http.ResponseWriter, r *http.Request) error {
	if s.Health != nil {
		if err := s.Health(); err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *server) metrics(w http.ResponseWriter, r *http.Request) error {
	if s.Metrics == nil {
		return unavailable("metrics")
	}
	s.Metrics.ServeHTTP(w, r)
	return nil
}

func (s *server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapiDoc)
	return nil
}

func (s *server) listDevices(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	if s.Devices == nil {
		return unavailable("device registry")
	}
	devs := s.Devices.List()
	writeJSON(w, http.StatusOK, map[string]any{"items": devs, "count": len(devs)})
	return nil
}

func (s *server) getDevice(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	if s.Devices == nil {
		return unavailable("device registry")
	}
	d, ok := s.Devices.Get(r.PathValue("id"))
	if !ok {
		return errorf(ErrNotFound, "device %q not found", r.PathValue("id"))
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *server) patchDevice(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	if s.Devices == nil {
		return unavailable("device registry")
	}
	var p registry.Patch
	if err := decodeJSON(w, r, &p); err != nil {
		return err
	}
	d, err := s.Devices.Update(r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// decodeJSON reads one strict JSON object of at most maxJSONBody bytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return errorf(ErrBadRequest, "decode body: %v", err)
	}
	if dec.More() {
		return errorf(ErrBadRequest, "decode body: more than one JSON value")
	}
	return nil
}

func (s *server) deadLetters(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "topic", "since", "before", "limit"); err != nil {
		return err
	}
	if s.DeadLetters == nil {
		return unavailable("dead-letter store")
	}
	f := deadletter.Filter{Topic: q.Get("topic")}
	var err error
	if v := q.Get("since"); v != "" {
		if f.Since, err = parseTime("since", v); err != nil {
			return err
		}
	}
	if f.Before, err = parseUint("before", q.Get("before")); err != nil {
		return err
	}
	limit, err := parseUint("limit", q.Get("limit"))
	if err != nil {
		return err
	}
	f.Limit = int(min(limit, deadletter.MaxLimit+1))
	items, next, err := s.DeadLetters.List(f)
	if err != nil {
		return err
	}
	out := map[string]any{"items": items, "next": nil}
	if items == nil {
		out["items"] = []deadletter.Letter{}
	}
	if next != 0 {
		out["next"] = nextURL(r.URL, "before", strconv.FormatUint(next, 10))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func parseUint(name, v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, errorf(ErrBadRequest, "%s: want a non-negative integer, got %q", name, v)
	}
	return n, nil
}

// nextURL is the request's URL with one parameter replaced.
func nextURL(u *url.URL, key, value string) string {
	q := u.Query()
	q.Set(key, value)
	return u.Path + "?" + q.Encode()
}

func (s *server) contracts(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	if s.Contracts == nil {
		return unavailable("contracts")
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": s.Contracts.Contracts()})
	return nil
}

func (s *server) validateContract(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	if s.Contracts == nil {
		return unavailable("contracts")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if err := s.Contracts.Validate(body); err != nil {
		return errorf(ErrBadRequest, "invalid contract: %v", err)
	}
	writeJSON(w, http.StatusOK, map[string]bool{"valid": true})
	return nil
}

func (s *server) compact(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	if s.Admin == nil {
		return unavailable("admin")
	}
	if err := s.Admin.Compact(r.Context()); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
