package api

import (
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
)

// RequireToken guards next with the API token as New does (for routes
// served beside the API, such as /debug/pprof/); an empty token guards
// nothing.
func RequireToken(token string, next http.Handler) http.Handler {
	s := &server{Deps: Deps{Token: token, Logger: slog.Default()}}
	return s.requireToken(next)
}

func (s *server) requireToken(next http.Handler) http.Handler {
	if s.Token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="edgevault"`)
			s.fail(w, r, errorf(ErrUnauthorized, "missing or wrong API token (Authorization: Bearer <http.token>)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries the API token: "Authorization:
// Bearer <token>", or, for InfluxDB v1 clients such as Telegraf, HTTP Basic
// with the token as password, "Authorization: Token <token>", or the query
// parameter p=<token> on /write and /query. /healthz and /ping stay open
// for liveness probes.
func (s *server) authorized(r *http.Request) bool {
	if s.Token == "" || r.URL.Path == "/healthz" || r.URL.Path == "/ping" {
		return true
	}
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		return s.tokenIs(tok)
	}
	if tok, ok := strings.CutPrefix(h, "Token "); ok {
		return s.tokenIs(tok)
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return s.tokenIs(pw)
	}
	if r.URL.Path == "/write" || r.URL.Path == "/query" {
		return s.tokenIs(r.URL.Query().Get("p"))
	}
	return false
}

func (s *server) tokenIs(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.Token)) == 1
}
