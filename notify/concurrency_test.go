package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/rules"
)

// gatedHook is a webhook receiver that holds the first attempt at
// delivering hold (an "id/state") until release is closed, then answers it
// with status; every other request gets 200. It records each request as
// "id/state" in arrival order, and answers as "id/state:code".
type gatedHook struct {
	*httptest.Server
	hold    string
	status  int
	release chan struct{}
	held    chan struct{} // closed when the held request arrives

	mu      sync.Mutex // guards the following
	arrived []string
	answers []string
	holding bool
}

func newGatedHook(t *testing.T, hold string, status int) *gatedHook {
	h := &gatedHook{hold: hold, status: status, release: make(chan struct{}), held: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct {
			ID    uint64 `json:"id"`
			State string `json:"state"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		name := fmt.Sprintf("%d/%s", a.ID, a.State)
		h.mu.Lock()
		h.arrived = append(h.arrived, name)
		wait := name == h.hold && !h.holding
		h.holding = h.holding || wait
		h.mu.Unlock()
		code := http.StatusOK
		if wait {
			close(h.held)
			<-h.release
			code = h.status
		}
		h.mu.Lock()
		h.answers = append(h.answers, fmt.Sprintf("%s:%d", name, code))
		h.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
	})
	return h
}

func (h *gatedHook) log() (arrived, answers []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.arrived), slices.Clone(h.answers)
}

func resolved(a alerts.Alert) alerts.Alert {
	a.State = rules.AlertResolved
	return a
}

// A delivery that hangs does not hold up the other alerts of its channel,
// and the transitions of its own alert wait for it, in order, through its
// retry.
func TestSlowDeliveryHoldsUpOnlyItsOwnAlert(t *testing.T) {
	h := newGatedHook(t, "1/triggered", http.StatusServiceUnavailable)
	e := start(t, []Channel{{Name: "hook", Kind: KindWebhook, URL: h.URL}}, Options{})
	e.d.Notify(alert(1, rules.SeverityCritical))
	<-h.held
	e.d.Notify(resolved(alert(1, rules.SeverityCritical)))
	e.d.Notify(alert(2, rules.SeverityCritical))
	e.d.Notify(resolved(alert(2, rules.SeverityCritical)))
	waitFor(t, "alert 2 while alert 1 hangs", func() bool { _, ans := h.log(); return len(ans) == 2 })
	if arrived, ans := h.log(); !slices.Equal(ans, []string{"2/triggered:200", "2/resolved:200"}) ||
		!slices.Equal(arrived, []string{"1/triggered", "2/triggered", "2/resolved"}) {
		t.Fatalf("while alert 1 hangs: arrived %v, answered %v", arrived, ans)
	}
	close(h.release)
	waitFor(t, "every delivery", func() bool { return e.status().Delivered == 4 })
	arrived, _ := h.log()
	var one []string
	for _, a := range arrived {
		if a[0] == '1' {
			one = append(one, a)
		}
	}
	// The 503 is retried before the resolution goes out.
	if !slices.Equal(one, []string{"1/triggered", "1/triggered", "1/resolved"}) {
		t.Fatalf("alert 1's requests %v", one)
	}
	if s := e.status(); s.Failed != 0 || s.QueueDropped != 0 {
		t.Fatalf("status %+v", s)
	}
}

// With concurrency 1 the channel delivers one at a time in queue order.
func TestConcurrencyOneDeliversInOrder(t *testing.T) {
	h := newGatedHook(t, "1/triggered", http.StatusOK)
	e := start(t, []Channel{{Name: "hook", Kind: KindWebhook, URL: h.URL, Concurrency: 1}}, Options{})
	e.d.Notify(alert(1, rules.SeverityCritical))
	<-h.held
	for id := uint64(2); id <= 4; id++ {
		e.d.Notify(alert(id, rules.SeverityCritical))
	}
	waitFor(t, "the run loop to take alert 2 and wait for the slot", func() bool { return len(e.d.channels[0].queue) == 2 })
	if arrived, _ := h.log(); len(arrived) != 1 {
		t.Fatalf("arrived %v while alert 1 hangs", arrived)
	}
	close(h.release)
	waitFor(t, "every delivery", func() bool { return e.status().Delivered == 4 })
	if _, ans := h.log(); !slices.Equal(ans, []string{"1/triggered:200", "2/triggered:200", "3/triggered:200", "4/triggered:200"}) {
		t.Fatalf("answered %v", ans)
	}
}

// Transitions waiting behind their alert's delivery count against the
// queue's bound: past it they are dropped and counted, not kept unbounded.
func TestWaitingTransitionsBounded(t *testing.T) {
	h := newGatedHook(t, "1/triggered", http.StatusOK)
	e := start(t, []Channel{{Name: "hook", Kind: KindWebhook, URL: h.URL}}, Options{QueueSize: 2})
	e.d.Notify(alert(1, rules.SeverityCritical))
	<-h.held
	for range 5 {
		e.d.Notify(resolved(alert(1, rules.SeverityCritical)))
	}
	waitFor(t, "three dropped", func() bool { return e.status().QueueDropped == 3 })
	c := e.d.channels[0]
	c.mu.Lock()
	waiting, behind := c.waiting, len(c.busy[1])
	c.mu.Unlock()
	if waiting != 2 || behind != 2 || e.counter(t, "hook", "queue_dropped") != 3 {
		t.Fatalf("%d waiting, %d behind alert 1, want 2 and 2", waiting, behind)
	}
	close(h.release)
	waitFor(t, "the kept ones", func() bool { return e.status().Delivered == 3 })
}

func TestConcurrencyValidated(t *testing.T) {
	for _, n := range []int{-1, maxConcurrency + 1} {
		err := Validate([]Channel{{Name: "hook", Kind: KindWebhook, URL: "http://127.0.0.1:1/", Concurrency: n}})
		if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "channels[0].concurrency") {
			t.Fatalf("concurrency %d: %v", n, err)
		}
	}
}
