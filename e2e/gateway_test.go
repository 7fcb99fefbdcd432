package e2e

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgevault/edgevault/gateway"
)

// fakeGateway is a gateway written against the protocol package: it
// records what comes down and answers commands unless told not to.
type fakeGateway struct {
	t      *testing.T
	id     string
	c      mqtt.Client
	mu     sync.Mutex // guards the fields below
	acks   map[string]int
	cmds   map[string]int // command id -> times received
	silent bool           // ignore commands
}

func newFakeGateway(t *testing.T, n *node, id string) *fakeGateway {
	g := &fakeGateway{t: t, id: id, acks: map[string]int{}, cmds: map[string]int{}}
	g.c = n.client(t, id)
	tok := g.c.Subscribe("gw/"+id+"/down", 1, g.down)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return g
}

func (g *fakeGateway) down(_ mqtt.Client, m mqtt.Message) {
	env, err := gateway.DecodeEnvelope(m.Payload())
	if err != nil {
		g.t.Errorf("gateway %s: undecodable down message: %v", g.id, err)
		return
	}
	g.mu.Lock()
	silent := g.silent
	switch env.Type {
	case gateway.TypeAck:
		g.acks[env.ID]++
	case gateway.TypeCommand:
		g.cmds[env.ID]++
	}
	g.mu.Unlock()
	if env.Type == gateway.TypeCommand && !silent {
		go func() { // answer off the client's callback goroutine
			g.up(gateway.Envelope{Type: gateway.TypeCommandAck, ID: env.ID})
			g.up(gateway.Envelope{Type: gateway.TypeCommandResult, ID: env.ID, OK: true, Result: map[string]any{"done": env.Name}})
		}()
	}
}

func (g *fakeGateway) up(env gateway.Envelope) {
	tok := g.c.Publish("gw/"+g.id+"/up", 1, false, gateway.Encode(env, true))
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		g.t.Errorf("gateway %s publish: %v", g.id, tok.Error())
	}
}

func (g *fakeGateway) count(m map[string]int, id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return m[id]
}

func simFrame(temp int16, co2 uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:], uint16(temp))
	binary.BigEndian.PutUint16(b[2:], 5000)
	b[4], b[5] = 90, 1
	binary.BigEndian.PutUint16(b[6:], co2)
	return b
}

func gatewayConfig(t *testing.T) string {
	t.Helper()
	example, err := os.ReadFile("../examples/edge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "edge.yaml")
	extra := "\ngateway:\n  heartbeat_interval: 1s\n"
	if err := os.WriteFile(cfg, append(example, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type commandAnswer struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
}

// TestGatewayProtocol runs a gateway over TCP against the real binary:
// groups decoded per contract, reports acknowledged and stored once,
// commands acknowledged or resent exactly 3 times, a command pending across
// a restart completes, and silence makes a gateway offline.
func TestGatewayProtocol(t *testing.T) {
	data, cfg := t.TempDir(), gatewayConfig(t)
	n := startEdge(t, data, "--config", cfg)
	g := newFakeGateway(t, n, "gw1")
	ts := time.Now().Add(-time.Minute).UnixMilli()
	group := gateway.Envelope{Type: gateway.TypeGroup, ID: "m1", Time: ts, Frames: []gateway.Frame{
		{Sensor: "gw1-s1", Contract: "sim-env", Data: simFrame(2150, 410)},
		{Sensor: "gw1-s2", Contract: "sim-env", Data: []byte{1, 2, 3}}, // too short: a dead letter
		{Sensor: "gw1-s3", Contract: "sim-env@v1", Data: simFrame(-300, 800)},
	}}
	g.up(group)
	g.up(group) // a resend after a lost ack: stored once
	eventually(t, 10*time.Second, "both acks of m1", func() bool { return g.count(g.acks, "m1") == 2 })
	if got := n.query(t, "gw1-s1", "temperature"); len(got) != 1 || got[ts] != 21.5 {
		t.Fatalf("gw1-s1 temperature %v, want 21.5 once at %d", got, ts)
	}
	if got := n.query(t, "gw1-s3", "co2"); got[ts] != 800.0 {
		t.Fatalf("gw1-s3 co2 %v", got)
	}
	var dl struct {
		Items []struct{ Reason string } `json:"items"`
	}
	n.get(t, "/api/v1/deadletters?topic=gw/gw1/up", &dl)
	if len(dl.Items) != 2 { // one bad frame per copy of the group
		t.Fatalf("dead letters %+v, want the bad frame twice", dl.Items)
	}

	t.Run("command acknowledged and executed", func(t *testing.T) {
		var cmd commandAnswer
		if code := n.send(t, "POST", "/api/v1/devices/gw1-s1/commands", `{"name":"reboot"}`, &cmd); code != http.StatusAccepted {
			t.Fatalf("submit: %d %+v", code, cmd)
		}
		eventually(t, 10*time.Second, "command succeeded", func() bool {
			n.get(t, "/api/v1/commands/"+cmd.ID, &cmd)
			return cmd.State == "succeeded"
		})
	})

	t.Run("no ack: exactly 3 resends then failed", func(t *testing.T) {
		g.mu.Lock()
		g.silent = true
		g.mu.Unlock()
		var cmd commandAnswer
		n.send(t, "POST", "/api/v1/devices/gw1-s1/commands", `{"name":"open","timeout":"1s"}`, &cmd)
		eventually(t, 20*time.Second, "command failed", func() bool {
			n.get(t, "/api/v1/commands/"+cmd.ID, &cmd)
			return cmd.State == "failed"
		})
		time.Sleep(1500 * time.Millisecond) // nothing more may come
		if got := g.count(g.cmds, cmd.ID); got != 4 || cmd.Attempts != 4 {
			t.Fatalf("gateway got the command %d times (attempts %d), want 1 + 3 resends", got, cmd.Attempts)
		}
	})

	t.Run("silent gateway goes offline and back", func(t *testing.T) {
		offline := func(want bool) func() bool {
			return func() bool {
				var gws struct {
					Items []struct {
						Gateway string
						Online  bool
					} `json:"items"`
				}
				n.get(t, "/api/v1/gateways", &gws)
				return len(gws.Items) == 1 && gws.Items[0].Online == !want
			}
		}
		eventually(t, 15*time.Second, "gw1 offline", offline(true))
		g.up(gateway.Envelope{Type: gateway.TypeHeartbeat, ID: "hb"})
		eventually(t, 5*time.Second, "gw1 online", offline(false))
	})

	// A command sent while the gateway is away is still pending when the
	// node restarts; the restarted node resends it and it completes.
	g.c.Disconnect(100)
	var cmd commandAnswer
	n.send(t, "POST", "/api/v1/devices/gw1-s3/commands", `{"name":"calibrate","timeout":"2s","retries":5}`, &cmd)
	n.stop()
	n = startEdge(t, data, "--config", cfg)
	g = newFakeGateway(t, n, "gw1")
	eventually(t, 20*time.Second, fmt.Sprintf("command %s completed after restart", cmd.ID), func() bool {
		n.get(t, "/api/v1/commands/"+cmd.ID, &cmd)
		return cmd.State == "succeeded"
	})
	n.stop()
}
