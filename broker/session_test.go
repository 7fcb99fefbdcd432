package broker

import (
	"runtime"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestKeepaliveCap checks that a v5 client asking for no keepalive, or too
// long a one, is told the maximum.
func TestKeepaliveCap(t *testing.T) {
	cases := []struct {
		name      string
		asked     uint16
		announced bool
	}{
		{"none", 0, true},
		{"too long", 3600, true},
		{"within", 30, false},
	}
	cfg := testConfig()
	cfg.Limits.MaxKeepalive = time.Minute
	_, addr := startBroker(t, cfg, newRecorder())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			cp := connectPacket(5, "ka")
			cp.Connect.Keepalive = tc.asked
			r.send(cp)
			ack := r.read(5)
			if ack.Properties.ServerKeepAliveFlag != tc.announced {
				t.Fatalf("server keepalive announced = %v, want %v", ack.Properties.ServerKeepAliveFlag, tc.announced)
			}
			if tc.announced && ack.Properties.ServerKeepAlive != 60 {
				t.Fatalf("server keepalive = %d, want 60", ack.Properties.ServerKeepAlive)
			}
		})
	}
}

// TestSessionTakeover checks that a connection replaced by a new one with
// the same client id is not reported as a disconnect of that client.
func TestSessionTakeover(t *testing.T) {
	rec := newRecorder()
	_, addr := startBroker(t, testConfig(), rec)
	first := rawConnect(t, addr, 4, "dup")
	second := connect(t, pahoOpts(addr, "dup"))
	if !first.closed(3 * time.Second) {
		t.Fatal("first connection not closed on takeover")
	}
	time.Sleep(100 * time.Millisecond)
	if err, ok := rec.disconnected("dup"); ok {
		t.Fatalf("takeover reported as disconnect (%v)", err)
	}
	second.Disconnect(100)
	waitFor(t, func() bool { err, ok := rec.disconnected("dup"); return ok && err == nil })
}

// TestWebSocketListener publishes over MQTT-over-WebSocket on port 0.
func TestWebSocketListener(t *testing.T) {
	rec := newRecorder()
	cfg := testConfig()
	cfg.Listeners = append(cfg.Listeners, Listener{Type: "ws", Addr: "127.0.0.1:0"})
	b, _ := startBroker(t, cfg, rec)
	ws := b.Addrs()["ws"]
	if ws == "" || ws == "127.0.0.1:0" {
		t.Fatalf("ws address %q not resolved", ws)
	}
	opts := paho.NewClientOptions().AddBroker("ws://" + ws + "/mqtt").SetClientID("wsc").
		SetAutoReconnect(false).SetConnectTimeout(2 * time.Second)
	var c paho.Client
	waitFor(t, func() bool { // Serve binds asynchronously
		c = paho.NewClient(opts)
		tok := c.Connect()
		return tok.WaitTimeout(time.Second) && tok.Error() == nil
	})
	defer c.Disconnect(50)
	if tok := c.Publish("ws/t", 1, false, "v"); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatalf("publish over ws: %v", tok.Error())
	}
	if m := rec.messages(); len(m) != 1 || m[0].ClientID != "wsc" {
		t.Fatalf("handler got %v", m)
	}
}

// TestCloseLeavesNoGoroutines checks that Close ends every goroutine the
// broker started, with clients still connected and one mid-CONNECT.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b, err := New(testConfig(), newRecorder(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()["tcp"]
	r1 := rawConnect(t, addr, 4, "a")
	r2 := rawConnect(t, addr, 5, "b")
	r3 := dialRaw(t, addr)
	r3.write([]byte{0x10, 0x20})
	waitFor(t, func() bool { return b.Clients() == 2 && b.Stats().PendingConnections == 1 })
	start := time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Close took %v", d)
	}
	for _, r := range []*rawConn{r1, r2, r3} {
		if !r.closed(3 * time.Second) {
			t.Fatal("client connection left open after Close")
		}
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= before })
}
