package notify

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/rules"
)

type hookServer struct {
	*httptest.Server
	mu       sync.Mutex // guards the following
	statuses []int      // replies in order; the last one repeats
	got      []*http.Request
	bodies   [][]byte
}

func newHookServer(t *testing.T, statuses ...int) *hookServer {
	h := &hookServer{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, r)
		h.bodies = append(h.bodies, body)
		code := h.statuses[min(len(h.got), len(h.statuses))-1]
		h.mu.Unlock()
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "120")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

func TestWebhookSigned(t *testing.T) {
	srv := newHookServer(t, 204)
	e := start(t, []Channel{{Name: "hook", Kind: KindWebhook, URL: srv.URL + "/in", Secret: "s3cret"}}, Options{})
	e.d.Notify(alert(7, rules.SeverityCritical))
	waitFor(t, "delivery", func() bool { return e.status().Delivered == 1 })
	srv.mu.Lock()
	req, body := srv.got[0], srv.bodies[0]
	srv.mu.Unlock()
	if got, want := req.Header.Get("X-Edgevault-Signature"), Sign("s3cret", body); got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
	if !strings.HasPrefix(req.Header.Get("X-Edgevault-Signature"), "sha256=") || len(req.Header.Get("X-Edgevault-Signature")) != 7+64 {
		t.Fatalf("signature format %q", req.Header.Get("X-Edgevault-Signature"))
	}
	if ts := req.Header.Get("X-Edgevault-Timestamp"); ts != "1795316400" {
		t.Fatalf("timestamp %q, want the injected clock's", ts)
	}
	if req.Method != http.MethodPost || req.URL.Path != "/in" || req.Header.Get("Content-Type") != "application/json" ||
		req.Header.Get("X-Edgevault-Event") != "alert" {
		t.Fatalf("request %s %s %v", req.Method, req.URL.Path, req.Header)
	}
	var a alerts.Alert
	if err := json.Unmarshal(body, &a); err != nil || a.ID != 7 || a.Rule != "freezer-warm" || a.Value != -4.5 {
		t.Fatalf("body %s: %+v %v", body, a, err)
	}
	if n := e.counter(t, "hook", "delivered"); n != 1 {
		t.Fatalf("delivered counter %v", n)
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		retries   *int
		calls     int
		delivered bool
		minSleeps []time.Duration // each sleep at least this
	}{
		{"500 then success", []int{500, 502, 200}, nil, 3, true, []time.Duration{500 * time.Millisecond, time.Second}},
		{"400 not retried", []int{400}, nil, 1, false, nil},
		{"404 not retried", []int{404}, nil, 1, false, nil},
		{"429 honours Retry-After", []int{429, 200}, nil, 2, true, []time.Duration{120 * time.Second}},
		{"503 until retries run out", []int{503}, intp(2), 3, false, []time.Duration{500 * time.Millisecond, time.Second}},
		{"no retries", []int{500}, intp(0), 1, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHookServer(t, tc.statuses...)
			e := start(t, []Channel{{Name: "hook", Kind: KindWebhook, URL: srv.URL, Retries: tc.retries}}, Options{})
			e.d.Notify(alert(1, rules.SeverityWarning))
			waitFor(t, "outcome", func() bool { s := e.status(); return s.Delivered+s.Failed == 1 })
			if got := srv.calls(); got != tc.calls {
				t.Fatalf("%d calls, want %d", got, tc.calls)
			}
			s := e.status()
			if (s.Delivered == 1) != tc.delivered {
				t.Fatalf("status %+v, delivered want %v", s, tc.delivered)
			}
			if !tc.delivered && (s.State != "failing" || s.ConsecutiveFailures != 1 || !strings.Contains(s.LastError, "status") ||
				!s.LastErrorAt.Equal(e.clock.Now()) || e.counter(t, "hook", "failed") != 1) {
				t.Fatalf("failure not recorded: %+v", s)
			}
			sleeps := e.clock.Sleeps()
			if len(sleeps) != len(tc.minSleeps) {
				t.Fatalf("sleeps %v, want %d", sleeps, len(tc.minSleeps))
			}
			for i, d := range sleeps {
				if d < tc.minSleeps[i] || d > backoffMax {
					t.Fatalf("sleep %d = %v, want >= %v", i, d, tc.minSleeps[i])
				}
			}
		})
	}
}

func TestWebhookNetworkErrorRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	e := start(t, []Channel{{Name: "hook", Kind: KindWebhook, URL: url, Retries: intp(3)}}, Options{})
	e.d.Notify(alert(1, rules.SeverityWarning))
	waitFor(t, "failure", func() bool { return e.status().Failed == 1 })
	if n := len(e.clock.Sleeps()); n != 3 {
		t.Fatalf("%d retries, want 3", n)
	}
	// Recovery: the next delivery that succeeds clears the failing state.
	ok := newHookServer(t, 200)
	e2 := start(t, []Channel{{Name: "hook", Kind: KindWebhook, URL: ok.URL}}, Options{})
	e2.d.Notify(alert(2, rules.SeverityWarning))
	waitFor(t, "delivery", func() bool { return e2.status().Delivered == 1 })
	if s := e2.status(); s.State != "ok" || s.ConsecutiveFailures != 0 {
		t.Fatalf("status %+v", s)
	}
}

func TestBackoffBounds(t *testing.T) {
	for attempt := 1; attempt <= 30; attempt++ {
		want := min(backoffBase<<min(attempt-1, 20), backoffMax)
		for range 50 {
			if d := backoff(attempt); d < want/2 || d > want {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestCloseDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	e := start(t, []Channel{{Name: "hook", Kind: KindWebhook, URL: srv.URL}}, Options{CloseTimeout: 50 * time.Millisecond})
	// Four deliveries hang (the default concurrency); two wait for a slot.
	for i := range DefaultConcurrency + 2 {
		e.d.Notify(alert(uint64(i), rules.SeverityWarning))
	}
	if err := e.d.Close(); !errors.Is(err, ErrCloseTimeout) {
		t.Fatalf("close: %v", err)
	}
	s := e.status()
	if s.Failed != DefaultConcurrency || s.QueueDropped != 2 || s.Delivered != 0 {
		t.Fatalf("after close: %+v", s)
	}
	e.d.Notify(alert(9, rules.SeverityWarning))
	if s := e.status(); s.QueueDropped != 3 {
		t.Fatalf("notify after close not counted: %+v", s)
	}
}
