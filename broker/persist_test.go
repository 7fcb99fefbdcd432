package broker

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/store"
)

// sessionConnect connects id with a persistent session (clean false; for
// MQTT 5 with the given expiry) and returns the connection and CONNACK's
// session present flag.
func sessionConnect(t *testing.T, addr string, version byte, id string, expiry uint32) (*rawConn, bool) {
	t.Helper()
	r := dialRaw(t, addr)
	cp := connectPacket(version, id)
	cp.Connect.Clean = false
	if version == 5 {
		cp.Properties.SessionExpiryInterval, cp.Properties.SessionExpiryIntervalFlag = expiry, true
	}
	r.send(cp)
	ack := r.read(version)
	if ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		t.Fatalf("connack: type %d code %#x", ack.FixedHeader.Type, ack.ReasonCode)
	}
	return r, ack.SessionPresent
}

func (r *rawConn) subscribe(version byte, filter string, qos byte) {
	r.t.Helper()
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: version,
		PacketID: 1, Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}})
	if pk := r.read(version); pk.FixedHeader.Type != packets.Suback || len(pk.ReasonCodes) != 1 || pk.ReasonCodes[0] != qos {
		r.t.Fatalf("suback: type %d codes %v", pk.FixedHeader.Type, pk.ReasonCodes)
	}
}

func (r *rawConn) disconnect(version byte) {
	r.t.Helper()
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: version})
	if !r.closed(3 * time.Second) {
		r.t.Fatal("connection not closed after DISCONNECT")
	}
}

// receive reads n PUBLISH packets, acknowledges those of QoS 1, and returns
// topic -> payload.
func (r *rawConn) receive(version byte, n int) map[string]string {
	r.t.Helper()
	got := map[string]string{}
	for len(got) < n {
		pk := r.read(version)
		if pk.FixedHeader.Type != packets.Publish {
			r.t.Fatalf("got packet type %d, want PUBLISH", pk.FixedHeader.Type)
		}
		got[pk.TopicName] = string(pk.Payload)
		if pk.FixedHeader.Qos == 1 {
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ProtocolVersion: version,
				PacketID: pk.PacketID})
		}
	}
	return got
}

func keys(t *testing.T, s kv.Store, prefix string) int {
	t.Helper()
	n := 0
	if err := s.Scan([]byte(prefix), func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatalf("scan %q: %v", prefix, err)
	}
	return n
}

// records counts the records of sessions and retained messages.
func records(t *testing.T, s kv.Store) int {
	return keys(t, s, pfxClient) + keys(t, s, pfxSub) + keys(t, s, pfxInflight) + keys(t, s, pfxRetained)
}

// storeOpener opens the session store of a test and reopens it as after a
// restart of the node.
type storeOpener func(t *testing.T) (open func() kv.Store)

func memStore(*testing.T) func() kv.Store {
	m := kv.NewMem()
	return func() kv.Store { return m }
}

func pebbleStore(t *testing.T) func() kv.Store {
	dir := t.TempDir()
	var db *store.DB
	return func() kv.Store {
		if db != nil {
			if err := db.Close(); err != nil {
				t.Fatalf("close store: %v", err)
			}
		}
		var err error
		if db, err = store.Open(dir, store.DefaultOptions()); err != nil {
			t.Fatalf("open store: %v", err)
		}
		d := db
		t.Cleanup(func() { _ = d.Close() })
		return kv.WithPrefix(d.Meta(), "mqtt/")
	}
}

// TestSessionSurvivesRestart: a persistent subscriber's subscription, a
// QoS 1 message queued for it while offline, and a retained message
// survive a restart; a message published after the restart, while it is
// still offline, is delivered when it reconnects with clean false.
func TestSessionSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		open storeOpener
	}{{"memory", memStore}, {"pebble", pebbleStore}} {
		t.Run(tc.name, func(t *testing.T) {
			open := tc.open(t)
			cfg := testConfig()
			cfg.Store = open()
			b1, addr := startBroker(t, cfg, newRecorder())
			sub, present := sessionConnect(t, addr, 4, "sub", 0)
			if present {
				t.Fatal("session present on first connect")
			}
			sub.subscribe(4, "cmd/#", 1)
			sub.disconnect(4)
			pub := connect(t, pahoOpts(addr, "pub"))
			for _, m := range []struct {
				topic, payload string
				retain         bool
			}{{"cmd/before", "m1", false}, {"state/lamp", "on", true}} {
				if tok := pub.Publish(m.topic, 1, m.retain, m.payload); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
					t.Fatalf("publish %s: %v", m.topic, tok.Error())
				}
			}
			waitFor(t, func() bool { return b1.Stats().Inflight == 1 })
			pub.Disconnect(50)
			if err := b1.Close(); err != nil {
				t.Fatal(err)
			}

			cfg.Store = open()
			rec := newRecorder()
			b2, addr := startBroker(t, cfg, rec)
			if err, ok := rec.disconnected("sub"); ok {
				t.Fatalf("restored session reported as a disconnect (%v)", err)
			}
			st := b2.Stats()
			if st.SessionsRestored != 1 || st.Retained != 1 || st.Inflight != 1 || st.Subscriptions != 1 {
				t.Fatalf("after restart: %+v", st)
			}
			pub = connect(t, pahoOpts(addr, "pub"))
			if tok := pub.Publish("cmd/after", 1, false, "m2"); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
				t.Fatalf("publish after restart: %v", tok.Error())
			}
			waitFor(t, func() bool { return b2.Stats().Inflight == 2 })

			sub, present = sessionConnect(t, addr, 4, "sub", 0)
			if !present {
				t.Fatal("session not present after restart")
			}
			got := sub.receive(4, 2)
			if got["cmd/before"] != "m1" || got["cmd/after"] != "m2" {
				t.Fatalf("delivered %v", got)
			}
			waitFor(t, func() bool { return b2.Stats().Inflight == 0 && keys(t, cfg.Store, pfxInflight) == 0 })

			reader := rawConnect(t, addr, 4, "reader")
			reader.subscribe(4, "state/#", 0)
			if got := reader.receive(4, 1); got["state/lamp"] != "on" {
				t.Fatalf("retained after restart: %v", got)
			}
		})
	}
}

// TestSessionExpiry: a session whose expiry passed while the node was down
// is not restored, and its records are deleted.
func TestSessionExpiry(t *testing.T) {
	cases := []struct {
		name    string
		version byte
		expiry  uint32 // MQTT 5 session expiry interval
		down    time.Duration
		present bool
	}{
		{"3.1.1 within limit", 4, 0, time.Hour, true},
		{"3.1.1 past limit", 4, 0, 2*time.Hour + time.Second, false},
		{"5 within interval", 5, 60, 59 * time.Second, true},
		{"5 past interval", 5, 60, 61 * time.Second, false},
		{"5 interval above limit", 5, 1 << 30, 2*time.Hour + time.Second, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			st := kv.NewMem()
			cfg := testConfig()
			cfg.Store, cfg.Now, cfg.Limits.SessionExpiry = st, clock.Now, 2*time.Hour
			b1, addr := startBroker(t, cfg, newRecorder())
			sub, _ := sessionConnect(t, addr, tc.version, "sub", tc.expiry)
			sub.subscribe(tc.version, "cmd/#", 1)
			sub.disconnect(tc.version)
			waitFor(t, func() bool { return b1.Clients() == 0 })
			if err := b1.Close(); err != nil {
				t.Fatal(err)
			}
			clock.advance(tc.down)
			b2, addr := startBroker(t, cfg, newRecorder())
			if got := b2.Stats().SessionsRestored == 1; got != tc.present {
				t.Fatalf("restored = %v, want %v", got, tc.present)
			}
			if !tc.present && keys(t, st, pfxClient)+keys(t, st, pfxSub) != 0 {
				t.Fatal("expired session left in the store")
			}
			if _, present := sessionConnect(t, addr, tc.version, "sub", tc.expiry); present != tc.present {
				t.Fatalf("session present = %v, want %v", present, tc.present)
			}
		})
	}
}

// TestRestoredSessionExpires: a restored session whose client does not
// come back ends at its original deadline, not restart + expiry.
func TestRestoredSessionExpires(t *testing.T) {
	clock := newFakeClock()
	st := kv.NewMem()
	cfg := testConfig()
	cfg.Store, cfg.Now, cfg.Limits.SessionExpiry = st, clock.Now, time.Hour
	b1, addr := startBroker(t, cfg, newRecorder())
	sub, _ := sessionConnect(t, addr, 4, "sub", 0)
	sub.subscribe(4, "cmd/#", 1)
	sub.disconnect(4)
	waitFor(t, func() bool { return b1.Clients() == 0 })
	if err := b1.Close(); err != nil {
		t.Fatal(err)
	}
	clock.advance(50 * time.Minute)
	b2, addr := startBroker(t, cfg, newRecorder())
	if err := b2.Publish("cmd/x", []byte("queued"), false, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return keys(t, st, pfxInflight) == 1 })
	clock.advance(11 * time.Minute)
	b2.sessions.OnSysInfoTick(nil) // the 10 s tick, without waiting for it
	if n := keys(t, st, pfxClient) + keys(t, st, pfxSub) + keys(t, st, pfxInflight); n != 0 {
		t.Fatalf("%d records left of the expired session", n)
	}
	if st := b2.Stats(); st.Inflight != 0 || st.Subscriptions != 0 {
		t.Fatalf("expired session still held: %+v", st)
	}
	if _, present := sessionConnect(t, addr, 4, "sub", 0); present {
		t.Fatal("expired session present")
	}
}

// TestCrashRestoresConnectedSession copies the store while the client is
// connected, as a kill -9 would leave it, and starts a broker on the copy.
func TestCrashRestoresConnectedSession(t *testing.T) {
	clock := newFakeClock()
	st := kv.NewMem()
	cfg := testConfig()
	cfg.Store, cfg.Now = st, clock.Now
	b1, addr := startBroker(t, cfg, newRecorder())
	sub, _ := sessionConnect(t, addr, 5, "sub", 600)
	sub.subscribe(5, "cmd/#", 1)
	b1.sessions.OnSysInfoTick(nil)
	crashed := kv.NewMem()
	if err := st.Scan(nil, func(k, v []byte) error { return crashed.Put(k, v) }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		down    time.Duration
		present bool
	}{{"back in time", 5 * time.Minute, true}, {"too late", 11 * time.Minute, false}} {
		t.Run(tc.name, func(t *testing.T) {
			snap := kv.NewMem()
			_ = crashed.Scan(nil, func(k, v []byte) error { return snap.Put(k, v) })
			c := cfg
			c.Store = snap
			c.Now = func() time.Time { return clock.Now().Add(tc.down) }
			b2, addr := startBroker(t, c, newRecorder())
			if got := b2.Stats().SessionsRestored == 1; got != tc.present {
				t.Fatalf("restored = %v, want %v", got, tc.present)
			}
			if _, present := sessionConnect(t, addr, 5, "sub", 600); present != tc.present {
				t.Fatalf("session present = %v, want %v", present, tc.present)
			}
		})
	}
}

// TestCleanSessionsStoreNothing: clean sessions never write, and a client
// that starts clean drops what its persistent session had stored.
func TestCleanSessionsStoreNothing(t *testing.T) {
	st := kv.NewMem()
	cfg := testConfig()
	cfg.Store = st
	b, addr := startBroker(t, cfg, newRecorder())
	clean := rawConnect(t, addr, 4, "clean")
	clean.subscribe(4, "cmd/#", 1)
	if err := b.Publish("cmd/x", []byte("v"), false, 1); err != nil {
		t.Fatal(err)
	}
	clean.receive(4, 1)
	sub, _ := sessionConnect(t, addr, 4, "sub", 0)
	sub.subscribe(4, "cmd/#", 1)
	sub.disconnect(4)
	if err := b.Publish("cmd/y", []byte("v"), false, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return keys(t, st, pfxInflight) == 1 })
	if n := records(t, st); n != 3 { // client, subscription, inflight of "sub"
		t.Fatalf("%d records, want 3", n)
	}
	again := rawConnect(t, addr, 4, "sub") // clean session true
	again.disconnect(4)
	waitFor(t, func() bool { return records(t, st) == 0 })
}

// TestCorruptRecordsDropped: records that do not decode, and records of
// sessions that are not restored, are deleted at start, which goes on.
func TestCorruptRecordsDropped(t *testing.T) {
	st := kv.NewMem()
	for k, v := range map[string]string{
		pfxClient + "bad":                      "{",
		pfxClient + "other":                    `{"id":"mismatch","clean":false}`,
		string(subKey("ghost", "a/#")):         `{"client":"ghost","filter":"a/#","qos":1}`,
		string(inflightKey("ghost", 7)):        `{"client":"ghost","packet_id":7}`,
		pfxRetained + "t":                      "not json",
		pfxRetained + "empty":                  `{"payload":""}`,
		string(subKey("ghost", "x")) + "extra": "{}",
	} {
		_ = st.Put([]byte(k), []byte(v))
	}
	cfg := testConfig()
	cfg.Store = st
	b, addr := startBroker(t, cfg, newRecorder())
	if n := records(t, st); n != 0 {
		var left [][]byte
		_ = st.Scan(nil, func(k, _ []byte) error { left = append(left, bytes.Clone(k)); return nil })
		t.Fatalf("%d records left: %q", n, left)
	}
	if s := b.Stats(); s.SessionsRestored != 0 || s.Subscriptions != 0 || s.Retained != 0 {
		t.Fatalf("stats %+v", s)
	}
	assertServes(t, addr)
}

// TestIDsDoNotCollide: purging session "a" leaves session "a:1" (whose
// keys start with the same bytes in a naive layout) alone.
func TestIDsDoNotCollide(t *testing.T) {
	st := kv.NewMem()
	cfg := testConfig()
	cfg.Store = st
	_, addr := startBroker(t, cfg, newRecorder())
	for _, id := range []string{"a", "a:1", "a/"} {
		r, _ := sessionConnect(t, addr, 4, id, 0)
		r.subscribe(4, "x/#", 1)
		r.disconnect(4)
	}
	rawConnect(t, addr, 4, "a").disconnect(4) // clean: drops "a"
	waitFor(t, func() bool { return keys(t, st, pfxSub) == 2 && keys(t, st, pfxClient) == 2 })
}

// fakeClock is a settable clock, safe for the broker's goroutines.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
