package broker

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// assertServes checks that the broker still accepts a well-behaved client.
func assertServes(t *testing.T, addr string) {
	t.Helper()
	r := rawConnect(t, addr, 4, "healthy")
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	if pk := r.read(4); pk.FixedHeader.Type != packets.Pingresp {
		t.Fatalf("healthy client: got type %d, want PINGRESP", pk.FixedHeader.Type)
	}
	_ = r.c.Close()
}

// TestMalformedBeforeConnect sends bad first packets over TCP.
func TestMalformedBeforeConnect(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
	}{
		{"huge remaining length", []byte{0x10, 0xff, 0xff, 0xff, 0x7f}},
		{"over max packet size", []byte{0x10, 0x81, 0x80, 0x10}}, // 262145
		{"five byte length", []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"publish first", []byte{0x30, 0x03, 0x00, 0x01, 'a'}},
		{"reserved flags", []byte{0x12, 0x00}},
		{"type zero", []byte{0x00, 0x00}},
		{"truncated connect", []byte{0x10, 0x20, 0x00, 0x04, 'M', 'Q'}},
		{"empty connect", []byte{0x10, 0x00}},
		{"bad protocol name", []byte{0x10, 0x0c, 0x00, 0x04, 'X', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00}},
		{"bad protocol version", []byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x09, 0x02, 0x00, 0x3c, 0x00, 0x00}},
		{"client id longer than packet", []byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0xff, 0xff}},
		{"v5 property length overflow", []byte{0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3c, 0xff, 0xff, 0xff}},
		{"will flag without will", []byte{0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06, 0x00, 0x3c, 0x00, 0x02, 'i', 'd'}},
		{"password without username", []byte{0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x42, 0x00, 0x3c, 0x00, 0x02, 'i', 'd'}},
		{"nothing at all", nil},
	}
	cfg := testConfig()
	cfg.Limits.ConnectTimeout = 300 * time.Millisecond
	_, addr := startBroker(t, cfg, newRecorder())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			if len(tc.b) > 0 {
				r.write(tc.b)
			}
			if !r.closed(3 * time.Second) {
				t.Fatal("connection left open")
			}
			assertServes(t, addr)
		})
	}
}

// TestMalformedAfterConnect sends bad packets on an accepted connection.
func TestMalformedAfterConnect(t *testing.T) {
	cases := []struct {
		name    string
		version byte
		b       []byte
	}{
		{"huge publish", 4, []byte{0x30, 0xff, 0xff, 0xff, 0x7f}},
		{"publish over max packet size", 4, []byte{0x30, 0x81, 0x80, 0x10}},
		{"second connect", 4, encode(t, connectPacket(4, "again"))},
		{"type zero", 4, []byte{0x00, 0x00}},
		{"reserved type 15 on v4", 4, []byte{0xf0, 0x00}},
		{"publish qos 3", 4, []byte{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01}},
		{"publish topic longer than packet", 4, []byte{0x30, 0x03, 0xff, 0xff, 'a'}},
		{"publish wildcard topic qos1", 4, []byte{0x32, 0x05, 0x00, 0x01, '#', 0x00, 0x01}},
		{"publish invalid utf8", 4, []byte{0x30, 0x04, 0x00, 0x02, 0xc3, 0x28}},
		{"subscribe no filters", 4, []byte{0x82, 0x02, 0x00, 0x01}},
		{"subscribe truncated filter", 4, []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x09, 'a'}},
		{"subscribe bad flags", 4, []byte{0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}},
		{"unsubscribe empty", 4, []byte{0xa2, 0x02, 0x00, 0x01}},
		{"puback truncated", 4, []byte{0x40, 0x01, 0x00}},
		{"pubrel unknown id", 4, []byte{0x62, 0x02, 0xff, 0xff}},
		{"v5 publish bad properties", 5, []byte{0x30, 0x06, 0x00, 0x01, 'a', 0x05, 0x01, 0x02}},
		{"v5 publish topic alias zero", 5, []byte{0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x00, 'x'}},
		{"v5 auth garbage", 5, []byte{0xf0, 0x03, 0x18, 0xff, 0xff}},
		{"v5 disconnect garbage", 5, []byte{0xe0, 0x03, 0x00, 0x7f, 0x7f}},
		{"truncated varint then close", 4, []byte{0x30, 0xff}},
		{"filter too long", 4, append([]byte{0x82, 0x86, 0x08, 0x00, 0x01, 0x04, 0x01}, append(bytes.Repeat([]byte("a"), 1025), 0x00)...)},
		{"topic too long", 4, append([]byte{0x30, 0x83, 0x08, 0x04, 0x01}, bytes.Repeat([]byte("a"), 1025)...)},
	}
	cfg := testConfig()
	_, addr := startBroker(t, cfg, newRecorder())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawConnect(t, addr, tc.version, "bad")
			r.write(tc.b)
			if tc.name == "truncated varint then close" || tc.name == "pubrel unknown id" {
				_ = r.c.Close()
			} else if !r.closed(3 * time.Second) {
				t.Fatal("connection left open")
			}
			assertServes(t, addr)
		})
	}
}

// TestConnectTimeout checks that a silent connection is closed.
func TestConnectTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.ConnectTimeout = 200 * time.Millisecond
	_, addr := startBroker(t, cfg, newRecorder())
	r := dialRaw(t, addr)
	start := time.Now()
	if !r.closed(3 * time.Second) {
		t.Fatal("silent connection left open")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

// TestPendingHeapBounded opens many connections that each declare a large
// CONNECT and send a few bytes: the broker must not allocate the declared
// size, and must refuse connections beyond max_pending_connections.
func TestPendingHeapBounded(t *testing.T) {
	const conns = 200
	cfg := testConfig()
	cfg.Limits.MaxPendingConnections = conns
	cfg.Limits.ConnectTimeout = 10 * time.Second
	b, addr := startBroker(t, cfg, newRecorder())
	before := heapInUse()
	rs := make([]*rawConn, conns)
	for i := range rs {
		rs[i] = dialRaw(t, addr)
		rs[i].write([]byte{0x10, 0xff, 0xff, 0x0f, 0x00, 0x04, 'M'}) // declares 256 KiB - 1
	}
	waitFor(t, func() bool { return b.guard.pending.Load() == conns })
	grown := int64(heapInUse()) - int64(before)
	// Allocating the declared sizes would take 200 × 256 KiB = 50 MiB.
	if grown > 8<<20 {
		t.Fatalf("heap grew by %d bytes for %d pending connections", grown, conns)
	}
	extra := dialRaw(t, addr)
	if !extra.closed(3 * time.Second) {
		t.Fatal("connection beyond max_pending_connections left open")
	}
	if st := b.Stats(); st.RefusedConnections != 1 || st.PendingConnections != conns {
		t.Fatalf("stats %+v, want 1 refused and %d pending", st, conns)
	}
	for _, r := range rs {
		_ = r.c.Close()
	}
	waitFor(t, func() bool { return b.guard.pending.Load() == 0 })
	assertServes(t, addr)
	if n := b.guard.panics.Load(); n != 0 {
		t.Fatalf("%d panics recovered", n)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestMochiSubscribePanic is the regression test of a mochi v2.7.9 panic
// found by FuzzPackets: a v5 SUBSCRIBE whose filter lacks its options byte.
// The guard closes that connection, publishes its will, reports it, and the
// broker keeps serving.
func TestMochiSubscribePanic(t *testing.T) {
	rec := newRecorder()
	b, addr := startBroker(t, testConfig(), rec)
	wills := rawConnect(t, addr, 4, "watcher")
	wills.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4,
		PacketID: 1, Filters: packets.Subscriptions{{Filter: "will/#"}}})
	wills.read(4) // SUBACK

	r := dialRaw(t, addr)
	cp := connectPacket(5, "victim")
	cp.Connect.WillFlag, cp.Connect.WillTopic, cp.Connect.WillPayload = true, "will/victim", []byte("gone")
	r.send(cp)
	r.read(5)
	r.write([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 'a'})
	if !r.closed(3 * time.Second) {
		t.Fatal("connection left open")
	}
	// The peer may see the close before the recovering goroutine counts it.
	waitFor(t, func() bool { return b.Panics() == 1 })
	if pk := wills.read(4); pk.FixedHeader.Type != packets.Publish || pk.TopicName != "will/victim" {
		t.Fatalf("will: got type %d topic %q", pk.FixedHeader.Type, pk.TopicName)
	}
	waitFor(t, func() bool { err, ok := rec.disconnected("victim"); return ok && errors.Is(err, ErrPanic) })
	waitFor(t, func() bool { return b.Clients() == 1 })
	assertServes(t, addr)
}
