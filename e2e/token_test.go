package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPIToken: with http.token set, the edge answers its API (backups
// included) only with the token, while liveness stays open.
func TestAPIToken(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "edge.yaml")
	if err := os.WriteFile(conf, []byte("http:\n  token: e2e-edge-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startEdge(t, t.TempDir(), "--config", conf)
	if code := n.get(t, "/healthz", nil); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	if code := n.get(t, "/api/v1/devices", nil); code != http.StatusUnauthorized {
		t.Fatalf("devices without token: %d, want 401", code)
	}
	resp, err := http.Post("http://"+n.http+"/write?db=x&precision=s&p=e2e-edge-token", "text/plain",
		strings.NewReader("env,device=attic temperature=14.2 1790000000"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("/write with p=token: %d", resp.StatusCode)
	}
	n.token = "e2e-edge-token"
	if got := n.query(t, "attic", "temperature"); len(got) != 1 {
		t.Fatalf("query with token: %v", got)
	}
	out := filepath.Join(t.TempDir(), "edge.evbk")
	edgevault(t, 1, "backup", "--url", "http://"+n.http, "--out", out)
	edgevault(t, 0, "backup", "--url", "http://"+n.http, "--out", out, "--token", "e2e-edge-token")
}
