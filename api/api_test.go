package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgevault/edgevault/deadletter"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/registry"
	"github.com/edgevault/edgevault/store"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type fakeQuerier struct {
	last store.Query
	res  store.Result
	err  error
}

func (f *fakeQuerier) Query(_ context.Context, q store.Query) (store.Result, error) {
	f.last = q
	return f.res, f.err
}

// fakeLines stores nothing: a line containing "bad" is a bad line, a body
// containing "fail" is a durability failure.
type fakeLines struct{ bodies [][]byte }

type partialErr struct{ errs []string }

func (e *partialErr) Error() string      { return "partial write: " + strings.Join(e.errs, "; ") }
func (e *partialErr) BadLines() []string { return e.errs }

func (f *fakeLines) WriteLines(_ context.Context, body []byte, precision string) (int, error) {
	f.bodies = append(f.bodies, bytes.Clone(body))
	if bytes.Contains(body, []byte("fail")) {
		return 0, errors.New("store: wal sync failed")
	}
	var bad []string
	n := 0
	for _, l := range strings.Split(string(body), "\n") {
		if strings.Contains(l, "bad") {
			bad = append(bad, "unable to parse "+l)
		} else if l != "" {
			n++
		}
	}
	if len(bad) > 0 {
		return n, &partialErr{bad}
	}
	return n, nil
}

type fakeContracts struct{}

func (fakeContracts) Contracts() any { return []map[string]string{{"name": "z2m"}} }
func (fakeContracts) Validate(body []byte) error {
	if !json.Valid(body) {
		return errors.New("not JSON")
	}
	return nil
}

type fakeAdmin struct{ compacted int }

func (a *fakeAdmin) Compact(context.Context) error { a.compacted++; return nil }

type env struct {
	h     http.Handler
	q     *fakeQuerier
	lines *fakeLines
	reg   *registry.Registry
	dead  *deadletter.Store
	admin *fakeAdmin
}

func newEnv(t testing.TB) *env {
	t.Helper()
	reg, err := registry.New(kv.NewMem(), registry.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	dead, err := deadletter.New(kv.NewMem(), deadletter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{q: &fakeQuerier{}, lines: &fakeLines{}, reg: reg, dead: dead, admin: &fakeAdmin{}}
	e.h = New(Deps{Query: e.q, Devices: reg, DeadLetters: dead, Contracts: fakeContracts{}, Lines: e.lines,
		Admin: e.admin, Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "up 1\n") }),
		Health: func() error { return nil }, Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 10,
		Now: func() time.Time { return now }})
	return e
}

func (e *env) do(t testing.TB, method, target string, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func errorOf(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("status %d: body %q is not a JSON error", rec.Code, rec.Body)
	}
	return e.Error
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" && m != "summary" && m != "description" {
				documented[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	registered := map[string]bool{}
	for _, rt := range routes {
		k := rt.method + " " + rt.path
		registered[k] = true
		if !documented[k] {
			t.Errorf("route %s is not in openapi.yaml", k)
		}
	}
	for k := range documented {
		if !registered[k] {
			t.Errorf("openapi.yaml documents %s, which has no route", k)
		}
	}
}

func TestEveryRouteAnswers(t *testing.T) {
	e := newEnv(t)
	for _, rt := range routes {
		path := strings.ReplaceAll(rt.path, "{id}", "x")
		rec := e.do(t, rt.method, path, "")
		if rec.Code == http.StatusNotFound && !strings.Contains(rt.path, "{id}") || rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d", rt.method, path, rec.Code)
		}
	}
}

func TestNoRoute(t *testing.T) {
	e := newEnv(t)
	rec := e.do(t, "DELETE", "/api/v1/devices/d1", "")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, PATCH" {
		t.Fatalf("status %d allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	errorOf(t, rec)
	if rec := e.do(t, "GET", "/nope", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	} else {
		errorOf(t, rec)
	}
}

func TestDevices(t *testing.T) {
	e := newEnv(t)
	e.reg.Observe("c1", []point.Reading{{Device: "d1", Metric: "temp", Time: 5, Value: point.Float(21.5)}}, "z2m")
	cases := []struct {
		name, method, target, body string
		code                       int
		want                       string // substring of the body
	}{
		{"list", "GET", "/api/v1/devices", "", 200, `"count":1`},
		{"get", "GET", "/api/v1/devices/d1", "", 200, `"last":{"t":5,"v":21.5}`},
		{"get unknown", "GET", "/api/v1/devices/zz", "", 404, `device \"zz\" not found`},
		{"unknown param", "GET", "/api/v1/devices?x=1", "", 400, `unknown parameter \"x\"`},
		{"patch", "PATCH", "/api/v1/devices/d1", `{"name":"Kitchen","meta":{"room":"k"}}`, 200, `"name":"Kitchen"`},
		{"patch unknown field", "PATCH", "/api/v1/devices/d1", `{"nme":"x"}`, 400, `unknown field`},
		{"patch bad json", "PATCH", "/api/v1/devices/d1", `{"name":`, 400, `decode body`},
		{"patch two values", "PATCH", "/api/v1/devices/d1", `{} {}`, 400, `more than one`},
		{"patch invalid", "PATCH", "/api/v1/devices/d1", `{"meta":{"":"v"}}`, 400, `invalid device update`},
		{"patch unknown", "PATCH", "/api/v1/devices/zz", `{}`, 404, `not found`},
		{"patch too large", "PATCH", "/api/v1/devices/d1", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, `too large`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, tc.method, tc.target, tc.body)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("status %d body %s, want %d with %s", rec.Code, rec.Body, tc.code, tc.want)
			}
		})
	}
	if d, _ := e.reg.Get("d1"); d.Meta["room"] != "k" {
		t.Fatalf("patch not applied: %+v", d)
	}
}

func TestDeadLetters(t *testing.T) {
	e := newEnv(t)
	for i, tp := range []string{"a/1", "b/1", "a/2"} {
		if err := e.dead.Add(deadletter.Letter{Time: now.Add(time.Duration(i) * time.Second), Topic: tp, Reason: "r", Payload: []byte("{")}); err != nil {
			t.Fatal(err)
		}
	}
	var page struct {
		Items []struct {
			ID          uint64 `json:"id"`
			Topic       string `json:"topic"`
			PayloadText string `json:"payload_text"`
		} `json:"items"`
		Next *string `json:"next"`
	}
	rec := e.do(t, "GET", "/api/v1/deadletters?topic=a/%2B&limit=1", "")
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(page.Items) != 1 || page.Items[0].Topic != "a/2" || page.Items[0].PayloadText != "{" || page.Next == nil {
		t.Fatalf("page 1 %s", rec.Body)
	}
	rec = e.do(t, "GET", *page.Next, "")
	page.Next = nil
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || len(page.Items) != 1 || page.Items[0].Topic != "a/1" || page.Next != nil {
		t.Fatalf("page 2 %s", rec.Body)
	}
	for _, q := range []string{"limit=-1", "limit=5000", "before=x", "since=yesterday", "topic=a/%23/b", "foo=1"} {
		if rec := e.do(t, "GET", "/api/v1/deadletters?"+q, ""); rec.Code != 400 {
			t.Errorf("%s: status %d", q, rec.Code)
		} else {
			errorOf(t, rec)
		}
	}
}

func TestMiscRoutes(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, method, target, body string
		code                       int
		want                       string
	}{
		{"healthz", "GET", "/healthz", "", 200, `"ok"`},
		{"metrics", "GET", "/metrics", "", 200, "up 1"},
		{"openapi", "GET", "/api/v1/openapi.yaml", "", 200, "openapi: 3"},
		{"contracts", "GET", "/api/v1/contracts", "", 200, `"z2m"`},
		{"validate ok", "POST", "/api/v1/contracts/validate", `{"name":"x"}`, 200, `"valid":true`},
		{"validate bad", "POST", "/api/v1/contracts/validate", `{`, 400, `invalid contract: not JSON`},
		{"compact", "POST", "/api/v1/admin/compact", "", 204, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, tc.method, tc.target, tc.body)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("status %d body %s, want %d with %s", rec.Code, rec.Body, tc.code, tc.want)
			}
		})
	}
	if e.admin.compacted != 1 {
		t.Fatal("compact not called")
	}
}

func TestUnconfiguredDeps(t *testing.T) {
	h := New(Deps{Health: func() error { return errors.New("store closed") }, Logger: slog.New(slog.DiscardHandler)})
	for _, rt := range routes {
		if rt.path == "/ping" || rt.path == "/api/v1/openapi.yaml" || rt.path == "/query" || rt.path == "/write" {
			continue
		}
		path := strings.ReplaceAll(rt.path, "{id}", "x")
		if rt.path == "/api/v1/query" {
			path += "?device=d&metric=m"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(rt.method, path, strings.NewReader("{}")))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s: status %d, want 503", rt.method, path, rec.Code)
		}
	}
}

func TestStatusOf(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{errorf(ErrBadRequest, "x"), 400},
		{registry.ErrInvalid, 400},
		{deadletter.ErrBadFilter, 400},
		{store.ErrBadQuery, 400},
		{&partialErr{}, 400},
		{registry.ErrNotFound, 404},
		{&http.MaxBytesError{Limit: 1}, 413},
		{store.ErrClosed, 503},
		{errors.New("boom"), 500},
	}
	for _, tc := range cases {
		if got := statusOf(tc.err); got != tc.want {
			t.Errorf("statusOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if !slices.ContainsFunc(routes, func(r route) bool { return r.path == "/write" }) {
		t.Fatal("no /write route")
	}
}
