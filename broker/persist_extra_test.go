package broker

import (
	"bytes"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/store"
)

// countingStore counts the writes that reach a store.
type countingStore struct {
	kv.Store
	puts, dels atomic.Int64
}

func (s *countingStore) Put(k, v []byte) error {
	if !bytes.Equal(k, []byte(keyAlive)) {
		s.puts.Add(1)
	}
	return s.Store.Put(k, v)
}

func (s *countingStore) Delete(k []byte) error { s.dels.Add(1); return s.Store.Delete(k) }

// TestPublisherWritesOnlyItsSession: QoS 1/2 publishes from a persistent
// client cost the session store nothing for QoS 1 (the PUBACK mochi holds
// for an instant is not stored) and one write and one delete for QoS 2
// (the PUBREC that dedups a retransmission, kept until PUBREL).
func TestPublisherWritesOnlyItsSession(t *testing.T) {
	cases := []struct {
		name       string
		qos        byte
		puts, dels int64
	}{
		{"qos1", 1, 0, 0},
		{"qos2", 2, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &countingStore{Store: kv.NewMem()}
			cfg := testConfig()
			cfg.Store = st
			_, addr := startBroker(t, cfg, newRecorder())
			pub, _ := sessionConnect(t, addr, 4, "pub", 0)
			// the session record is written just after CONNACK
			waitFor(t, func() bool { return keys(t, st, pfxClient) == 1 })
			base := st.puts.Load()
			pub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: tc.qos},
				ProtocolVersion: 4, PacketID: 9, TopicName: "dev/t", Payload: []byte("1")})
			ack := pub.read(4)
			if tc.qos == 2 {
				pub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1},
					ProtocolVersion: 4, PacketID: ack.PacketID})
				pub.read(4) // PUBCOMP
			}
			time.Sleep(50 * time.Millisecond)
			if p, d := st.puts.Load()-base, st.dels.Load(); p != tc.puts || d != tc.dels {
				t.Fatalf("puts %d dels %d, want %d %d", p, d, tc.puts, tc.dels)
			}
		})
	}
}

// FuzzStoredRecords loads one arbitrary record under each prefix: loading
// never fails or panics on what it reads, and a record either comes back
// to mochi or is deleted.
func FuzzStoredRecords(f *testing.F) {
	f.Add("sub", `{"id":"sub","protocolVersion":4,"clean":false}`, "cmd/#", `{"client":"sub","filter":"cmd/#","qos":1}`,
		`{"client":"sub","packet_id":1,"fixedheader":{"type":3,"qos":1}}`, `{"payload":"b24=","created":1}`)
	f.Add("v5", `{"id":"v5","protocolVersion":5,"properties":{"sessionExpiryInterval":60,"sessionExpiryIntervalFlag":true}}`,
		"", "{", "null", `{"payload":null}`)
	f.Add("", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, id, client, filter, sub, inflight, retained string) {
		st := kv.NewMem()
		puts := map[string]string{
			pfxClient + id:                        client,
			string(subKey(id, filter)):            sub,
			string(inflightKey(id, 1)):            inflight,
			pfxRetained + filter:                  retained,
			string(subKey(id+"x", filter)):        sub,
			string(append(inflightKey(id, 1), 0)): inflight,
		}
		for k, v := range puts {
			_ = st.Put([]byte(k), []byte(v))
		}
		cfg := testConfig().withDefaults()
		h := newSessionStore(st, mqtt.New(nil), cfg, quietLog())
		n := 0
		cls, err1 := h.StoredClients()
		subs, err2 := h.StoredSubscriptions()
		ifs, err3 := h.StoredInflightMessages()
		rets, err4 := h.StoredRetainedMessages()
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range append(ifs, rets...) {
			_ = m.ToPacket()
		}
		n = len(cls) + len(subs) + len(ifs) + len(rets)
		if left := records(t, st); left != n {
			b, _ := json.Marshal(puts)
			t.Fatalf("%d records left, %d loaded, from %s", left, n, b)
		}
	})
}

// BenchmarkHeldMessage is the session store's cost per QoS 1 message
// delivered to a persistent subscriber: one write when it is sent, one
// delete when it is acknowledged. "mem" is encoding and bookkeeping only;
// "pebble" is the edge node's store, each write synced.
func BenchmarkHeldMessage(b *testing.B) {
	for _, tc := range []struct {
		name  string
		store func(b *testing.B) kv.Store
	}{
		{"mem", func(*testing.B) kv.Store { return kv.NewMem() }},
		{"pebble", func(b *testing.B) kv.Store {
			db, err := store.Open(b.TempDir(), store.DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			return kv.WithPrefix(db.Meta(), "mqtt/")
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := testConfig().withDefaults()
			srv := mqtt.New(nil)
			h := newSessionStore(tc.store(b), srv, cfg, quietLog())
			cl := srv.NewClient(nil, "tcp", "sensor-0042", false)
			cl.Properties.ProtocolVersion = 4
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
				TopicName: "cmd/sensor-0042/set", Payload: []byte(`{"setpoint":21.5}`), Created: 1}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				pk.PacketID = uint16(i%65535 + 1)
				h.OnQosPublish(cl, pk, 1, 0)
				h.OnQosComplete(cl, pk)
			}
		})
	}
}
