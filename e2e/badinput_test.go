package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadInputCostsNothingElse sends what a broken or hostile device sends
// and checks each gets its clear answer while good traffic carries on.
func TestBadInputCostsNothingElse(t *testing.T) {
	// A short connect timeout, so the truncated CONNECT below is cut off
	// well inside the test's read deadline.
	cfg := filepath.Join(t.TempDir(), "edge.yaml")
	if err := os.WriteFile(cfg, []byte("mqtt:\n  limits:\n    connect_timeout: 2s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startEdge(t, t.TempDir(), "--config", cfg)
	c := n.client(t, "bad-1")

	t.Run("undecodable payload ends in the dead-letter store", func(t *testing.T) {
		publish(t, c, "devices/bad-1/telemetry", 1, []byte(`{"temperature": 21.5,`))
		var letters struct {
			Items []struct {
				Topic  string `json:"topic"`
				Reason string `json:"reason"`
			} `json:"items"`
		}
		eventually(t, 5*time.Second, "dead letter listed", func() bool {
			n.get(t, "/api/v1/deadletters", &letters)
			return len(letters.Items) > 0
		})
		if got := letters.Items[0]; got.Topic != "devices/bad-1/telemetry" || got.Reason == "" {
			t.Fatalf("dead letter = %+v, want the topic and a reason", got)
		}
	})

	t.Run("malformed packets close only their connection", func(t *testing.T) {
		for name, raw := range map[string][]byte{
			"huge declared length before CONNECT": {0x10, 0xff, 0xff, 0xff, 0x7f},
			"truncated CONNECT":                   {0x10, 0x0c, 0x00, 0x04, 'M', 'Q'},
			"garbage":                             bytes.Repeat([]byte{0xde, 0xad}, 64),
			"bad protocol name":                   {0x10, 0x0c, 0x00, 0x04, 'X', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00},
		} {
			conn, err := net.DialTimeout("tcp", n.mqtt, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			conn.Write(raw)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.ReadAll(conn) // returns when the node closes the connection
			conn.Close()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("%s: connection left open", name)
			}
		}
		// The node still serves well-behaved clients.
		publish(t, c, "devices/bad-1/telemetry", 1, []byte(`{"temperature": 21.5, "ts": 1700000000000}`))
		if got := n.query(t, "bad-1", "temperature"); got[1700000000000] != 21.5 {
			t.Fatalf("after malformed packets: stored %v", got)
		}
	})

	t.Run("bad query parameters get 400 with the reason", func(t *testing.T) {
		for _, q := range []string{
			"device=bad-1", // no metric
			"device=bad-1&metric=t&from=yesterday",
			"device=bad-1&metric=t&from=10&to=5",
			"device=bad-1&metric=t&step=-1m&agg=avg",
			"device=bad-1&metric=t&step=1m&agg=median",
			"device=bad-1&metric=t&limit=-3",
		} {
			var a queryAnswer
			if code := n.get(t, "/api/v1/query?"+q, &a); code != http.StatusBadRequest || a.Error == "" {
				t.Errorf("%s: status %d error %q, want 400 with a reason", q, code, a.Error)
			}
		}
	})

	t.Run("bad line protocol over /write is a partial write", func(t *testing.T) {
		body := "env,device=lp-1 temperature=20.5 1700000000000000000\nthis is not line protocol\n"
		resp, err := http.Post("http://"+n.http+"/write?db=home", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), "partial write") {
			t.Fatalf("status %d body %s, want 400 partial write", resp.StatusCode, msg)
		}
		if got := n.query(t, "lp-1", "temperature"); got[1700000000000] != 20.5 {
			t.Fatalf("good line not stored: %v", got)
		}
	})
}
