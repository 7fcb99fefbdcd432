package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func (n *node) send(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.http+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

// TestRulesOverREST defines rules over REST on a running node and checks
// they act on published readings without a restart.
func TestRulesOverREST(t *testing.T) {
	n := startEdge(t, t.TempDir())

	var bad struct {
		Error   string `json:"error"`
		Details struct {
			Line, Column int
		} `json:"details"`
	}
	code := n.send(t, "POST", "/api/v1/rules", `{"id":"broken","kind":"alert","match":{"metric":"t"},"condition":"value >"}`, &bad)
	if code != http.StatusBadRequest || bad.Error == "" || bad.Details.Column == 0 {
		t.Fatalf("invalid rule: %d %+v, want 400 with the error position", code, bad)
	}
	for _, rule := range []string{
		`{"id":"hot","kind":"alert","match":{"metric":"temperature"},"threshold":{"op":">","value":30},"severity":"critical"}`,
		`{"id":"avg2","kind":"window","match":{"metric":"temperature"},"window":{"type":"count","count":2,"aggregate":"avg","output":{"metric":"temperature_avg2"}}}`,
	} {
		if code := n.send(t, "POST", "/api/v1/rules", rule, nil); code != http.StatusCreated {
			t.Fatalf("create %s: status %d", rule, code)
		}
	}

	c := n.client(t, "r1")
	ts := time.Now().Add(-time.Minute).UnixMilli()
	publish(t, c, "devices/r1/telemetry", 1, []byte(fmt.Sprintf(`{"temperature":20,"ts":%d}`, ts)))
	publish(t, c, "devices/r1/telemetry", 1, []byte(fmt.Sprintf(`{"temperature":42,"ts":%d}`, ts+1000)))

	eventually(t, 10*time.Second, "the alert to be active", func() bool {
		var v struct {
			Status struct {
				ActiveAlerts int `json:"active_alerts"`
			} `json:"status"`
		}
		n.get(t, "/api/v1/rules/hot", &v)
		return v.Status.ActiveAlerts == 1
	})
	eventually(t, 10*time.Second, "the derived series", func() bool {
		return n.query(t, "r1", "temperature_avg2")[ts+1000] == 31.0
	})
	if code := n.send(t, "DELETE", "/api/v1/rules/hot", "", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
}
