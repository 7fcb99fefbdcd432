package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/notify"
)

// webhookReceiver records the alerts a webhook channel delivers, after
// checking their HMAC signature.
type webhookReceiver struct {
	mu     sync.Mutex // guards states
	states []string
	bad    int
}

func (wr *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if r.Header.Get("X-Edgevault-Signature") != notify.Sign("s3cret", body) {
		wr.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var a struct {
		State string `json:"state"`
	}
	json.Unmarshal(body, &a)
	wr.states = append(wr.states, a.State)
}

func (wr *webhookReceiver) got() []string {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	return append([]string(nil), wr.states...)
}

// TestAlertLifecycle: a simulated device crosses a threshold, the webhook
// receiver gets the alert, it is acknowledged over REST, the condition
// clears and the alert resolves. Routing drops a noisy metric on the way.
func TestAlertLifecycle(t *testing.T) {
	recv := &webhookReceiver{}
	hook := httptest.NewServer(recv)
	defer hook.Close()
	cfg := filepath.Join(t.TempDir(), "edge.yaml")
	yaml := fmt.Sprintf(`
rules:
  - {id: freezer-warm, kind: alert, match: {metric: temperature, device: "freezer-*"}, threshold: {op: ">", value: -10}, severity: critical}
routing:
  - {name: no-linkquality, match: {metric: linkquality}, action: drop}
notify:
  channels:
    - {name: hook, kind: webhook, url: %q, secret: s3cret}
`, hook.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startEdge(t, t.TempDir(), "--config", cfg)
	c := n.client(t, "freezer-1")
	// Each reading carries its own millisecond: two messages the node
	// stamps with the same receive time are one point, the later one.
	at := time.Now().UnixMilli()
	send := func(temp float64) {
		at++
		publish(t, c, "devices/freezer-1/telemetry", 1, []byte(fmt.Sprintf(`{"ts":%d,"temperature":%g,"linkquality":99}`, at, temp)))
	}
	send(-20)
	send(-5)
	eventually(t, 10*time.Second, "the triggered alert at the webhook", func() bool { return len(recv.got()) == 1 })

	var list struct {
		Items []struct {
			ID    uint64 `json:"id"`
			State string `json:"state"`
			Rule  string `json:"rule"`
		} `json:"items"`
	}
	if code := n.get(t, "/api/v1/alerts?state=triggered&device=freezer-1", &list); code != http.StatusOK || len(list.Items) != 1 {
		t.Fatalf("alerts: %d %+v", code, list)
	}
	id := list.Items[0].ID
	var acked struct {
		State string `json:"state"`
		By    string `json:"acknowledged_by"`
	}
	if code := n.send(t, "POST", fmt.Sprintf("/api/v1/alerts/%d/ack", id), `{"by":"alice"}`, &acked); code != http.StatusOK || acked.State != "acknowledged" || acked.By != "alice" {
		t.Fatalf("ack: %d %+v", code, acked)
	}
	send(-15)
	eventually(t, 10*time.Second, "the resolved alert at the webhook", func() bool { return len(recv.got()) == 3 })
	if got := recv.got(); got[0] != "triggered" || got[1] != "acknowledged" || got[2] != "resolved" {
		t.Fatalf("webhook got %v, want triggered, acknowledged, resolved", got)
	}
	var final struct {
		State string `json:"state"`
	}
	n.get(t, fmt.Sprintf("/api/v1/alerts/%d", id), &final)
	if final.State != "resolved" || recv.bad != 0 {
		t.Fatalf("alert %d state %q, bad signatures %d", id, final.State, recv.bad)
	}
	// Each delivery is timed from its cause in the latency histogram (once
	// the webhook's answer is back, a moment after it received the alert).
	want := `edgevault_notification_latency_seconds_count{channel="hook"} 3`
	eventually(t, 10*time.Second, want+" in /metrics", func() bool {
		resp, err := http.Get("http://" + n.http + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		metrics, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(metrics), want)
	})
	if got := n.query(t, "freezer-1", "linkquality"); len(got) != 0 {
		t.Fatalf("routing should have dropped linkquality, stored %v", got)
	}
	if got := n.query(t, "freezer-1", "temperature"); len(got) != 3 {
		t.Fatalf("temperature points %v, want 3", got)
	}
}
