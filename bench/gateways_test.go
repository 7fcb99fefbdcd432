package bench

import (
	"os"
	"testing"
	"time"
)

// TestGatewaysEdge runs the gateways bench at tiny scale against the binary
// named by EDGEVAULT_BIN.
func TestGatewaysEdge(t *testing.T) {
	bin := os.Getenv("EDGEVAULT_BIN")
	if bin == "" {
		t.Skip("EDGEVAULT_BIN not set")
	}
	res, err := Gateways(t.Context(), GatewaysOptions{Gateways: 4, Sensors: 3, Interval: 250 * time.Millisecond,
		Duration: time.Second, Heartbeat: time.Second, VerifyGateways: 4, Commands: 40, CmdGateways: 2, Concurrency: 4, EdgeBin: bin})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Reports
	if !g.NoBacklog || !g.Verified || g.StoredPoints != 4*3*5*4 || g.Registered != 12 {
		t.Errorf("reports %+v", g)
	}
	c := res.Commands
	if c == nil || c.Completed != 40 || c.Succeeded != 40 || c.P99Ms <= 0 || c.Fleet.Executed != 40 {
		t.Fatalf("commands %+v", c)
	}
}
