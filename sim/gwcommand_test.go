package sim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/gateway"
)

func TestGatewayCommandsExecuteOnce(t *testing.T) {
	p := startPlatform(t)
	o := gwTestOpts(p)
	o.Interval = 50 * time.Millisecond
	gw := o.GatewayID(0)
	stop := runInBackground(t, o)
	eventually(t, "hello heartbeat", func() bool { return len(p.received(gw, gateway.TypeHeartbeat)) == 1 })

	p.sendDown(gw, gateway.Encode(gateway.Envelope{Type: gateway.TypeHeartbeat, ID: "hb-test"}, false))
	eventually(t, "heartbeat answer", func() bool { return len(p.received(gw, gateway.TypeHeartbeat)) == 2 })
	if hb := p.received(gw, gateway.TypeHeartbeat); hb[1].ID != "hb-test" {
		t.Errorf("heartbeat answer id %q", hb[1].ID)
	}

	close1 := gateway.Encode(gateway.Envelope{Type: gateway.TypeCommand, ID: "c-1", Name: "close"}, false)
	p.sendDown(gw, close1)
	eventually(t, "first result", func() bool { return len(p.received(gw, gateway.TypeCommandResult)) == 1 })
	p.sendDown(gw, close1) // a resend: same id
	eventually(t, "second result", func() bool { return len(p.received(gw, gateway.TypeCommandResult)) == 2 })
	res := p.received(gw, gateway.TypeCommandResult)
	if got := ids(p.received(gw, gateway.TypeCommandAck)); strings.Join(got, ",") != "c-1,c-1" {
		t.Errorf("command acks %v, want c-1 twice", got)
	}
	for _, r := range res {
		if r.ID != "c-1" || !r.OK || r.Result["name"] != "close" || r.Result["executed_at"] != res[0].Result["executed_at"] {
			t.Errorf("result %+v: want ok, name close, the executed_at of the one execution", r)
		}
	}

	status := gateway.Envelope{Type: gateway.TypeCommand, ID: "c-2", Device: gw + "-s0", Name: gateway.CommandStatus}
	p.sendDown(gw, gateway.Encode(status, true))
	eventually(t, "status result", func() bool { return len(p.received(gw, gateway.TypeCommandResult)) == 3 })
	sensors, _ := p.received(gw, gateway.TypeCommandResult)[2].Result["sensors"].(map[string]any)
	vals, _ := sensors[gw+"-s0"].(map[string]any)
	if len(sensors) != 1 || len(vals) != 5 || vals["co2"] == nil {
		t.Errorf("status result sensors %v, want the 5 latest values of %s-s0", sensors, gw)
	}

	cmd, err := p.cmds.Submit(gw+"-s0", gw, "open", map[string]any{"pct": 50}, time.Second, 3)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "command succeeded", func() bool {
		c, err := p.cmds.Get(cmd.ID)
		return err == nil && c.State == gateway.StateSucceeded && c.Result["name"] == "open"
	})

	rep := stop()
	if rep.Commands != 4 || rep.Executed != 3 || rep.Duplicates != 1 || rep.HeartbeatsIn != 1 || rep.HeartbeatsOut != 2 {
		t.Errorf("commands %d executed %d duplicates %d heartbeats in %d out %d, want 4 3 1 1 2",
			rep.Commands, rep.Executed, rep.Duplicates, rep.HeartbeatsIn, rep.HeartbeatsOut)
	}
}

func TestGatewayNeverAckFailsAfterThreeResends(t *testing.T) {
	p := startPlatform(t)
	o := gwTestOpts(p)
	o.NeverAck = true
	gw := o.GatewayID(0)
	stop := runInBackground(t, o)
	eventually(t, "hello heartbeat", func() bool { return len(p.received(gw, gateway.TypeHeartbeat)) == 1 })
	cmd, err := p.cmds.Submit(gw, gw, "reboot", nil, 30*time.Millisecond, 3)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "command final", func() bool {
		p.cmds.Tick()
		c, err := p.cmds.Get(cmd.ID)
		return err == nil && c.State.Final()
	})
	c, _ := p.cmds.Get(cmd.ID)
	if c.State != gateway.StateFailed || c.Attempts != 4 {
		t.Errorf("state %s after %d sends, want failed after 4 (1 + 3 resends)", c.State, c.Attempts)
	}
	time.Sleep(50 * time.Millisecond) // let the last resend arrive
	rep := stop()
	if rep.Commands != 4 || rep.Executed != 0 {
		t.Errorf("commands %d executed %d, want 4 0", rep.Commands, rep.Executed)
	}
	if n := len(p.received(gw, gateway.TypeCommandAck)) + len(p.received(gw, gateway.TypeCommandResult)); n != 0 {
		t.Errorf("%d command answers from a never-ack gateway", n)
	}
}

func TestGatewayCommandLine(t *testing.T) {
	p := startPlatform(t)
	base := []string{"gateway", "--broker", p.addr, "--count", "3", "--interval", "10ms", "--sensors", "2", "--gateways", "2"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"json binary", append(base, "--json", "--binary", "--start", "1700000000000"), 0, `"acked": 6`},
		{"text", base, 0, "reports     6 made, 6 sent, 6 acked (60 points), 0 resent"},
		{"help", []string{"gateway", "-h"}, 0, ""},
		{"too many sensors", []string{"gateway", "--sensors", "1001"}, 2, ""},
		{"bad drop", []string{"gateway", "--flaky", "--drop", "2"}, 2, ""},
		{"extra argument", []string{"gateway", "extra"}, 2, ""},
		{"no broker", []string{"gateway", "--broker", "127.0.0.1:1", "--count", "1"}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Command(tc.args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output %s, want %q", out.String(), tc.want)
			}
			if strings.Contains(tc.name, "json") {
				var rep GatewayReport
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.Binary || rep.Gateways != 2 {
					t.Errorf("json report %+v: %v", rep, err)
				}
			}
		})
	}
}

// FuzzGatewayHandle feeds arbitrary down-topic payloads to a disconnected
// gateway: nothing may panic, and only valid commands count as commands.
func FuzzGatewayHandle(f *testing.F) {
	f.Add([]byte(`{"type":"ack","id":"0"}`))
	f.Add([]byte(`{"type":"command","id":"c-1","name":"status","device":"gw-0000-s0"}`))
	f.Add([]byte(`{"type":"heartbeat","id":"hb-1"}`))
	f.Add(gateway.Encode(gateway.Envelope{Type: gateway.TypeCommand, ID: "c", Name: "x", Params: map[string]any{"a": 1.0}}, true))
	f.Add([]byte("GW\x01\x03\x010\x00"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		o, _ := GatewayOptions{Broker: "x:1", Sensors: 2, Logger: discardLogger()}.withDefaults()
		g := newSimGateway(o, 0)
		g.tick() // one report in the outbox
		g.handle(inMsg{payload: payload})
		env, err := gateway.DecodeEnvelope(payload)
		wantCmd := err == nil && env.Type == gateway.TypeCommand
		if (g.st.commands == 1) != wantCmd || g.st.executed > g.st.commands {
			t.Errorf("commands %d executed %d for %q", g.st.commands, g.st.executed, payload)
		}
		if err == nil && env.Type == gateway.TypeAck && env.ID == "0" && len(g.outbox) != 0 {
			t.Errorf("ack of report 0 left it in the outbox")
		}
	})
}
