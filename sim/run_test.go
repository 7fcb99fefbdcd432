package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// testBroker is an in-process mochi broker that records every publish.
type testBroker struct {
	addr string
	mu   sync.Mutex // guards msgs
	msgs []received
}

type received struct {
	topic   string
	payload []byte
}

func startBroker(t *testing.T, ledger *auth.Ledger) *testBroker {
	t.Helper()
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if ledger != nil {
		if err := s.AddHook(new(auth.Hook), &auth.Options{Ledger: ledger}); err != nil {
			t.Fatal(err)
		}
	} else if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := s.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	b := &testBroker{addr: tcp.Address()}
	err := s.Subscribe("#", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		if strings.HasPrefix(pk.TopicName, "$SYS") {
			return
		}
		b.mu.Lock()
		b.msgs = append(b.msgs, received{pk.TopicName, slices.Clone(pk.Payload)})
		b.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return b
}

func (b *testBroker) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.msgs)
}

// payloadTS extracts the timestamp (ms) a payload carries; ok is false for
// formats without one.
func payloadTS(t *testing.T, f Format, p []byte) (int64, bool) {
	t.Helper()
	var m map[string]any
	switch f {
	case FormatJSON, FormatJSON10, FormatZigbee2MQTT:
		if err := json.Unmarshal(p, &m); err != nil {
			t.Fatalf("payload %q: %v", p, err)
		}
		key := map[Format]string{FormatJSON: "ts", FormatJSON10: "ts", FormatZigbee2MQTT: "last_seen"}[f]
		return int64(m[key].(float64)), true
	case FormatLine:
		fields := strings.Fields(string(p))
		ns, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
		if err != nil {
			t.Fatalf("line %q: %v", p, err)
		}
		return ns / 1e6, true
	case FormatTasmota:
		if err := json.Unmarshal(p, &m); err != nil {
			t.Fatalf("payload %q: %v", p, err)
		}
		ts, err := time.Parse("2006-01-02T15:04:05", m["Time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return ts.UnixMilli(), true
	}
	return 0, false
}

func TestRunDeterministic(t *testing.T) {
	const devices, count, start, interval = 3, 20, 1795860000000, 1000
	tests := []struct {
		format Format
		qos    byte
	}{
		{FormatJSON, 0}, {FormatJSON, 1}, {FormatJSON, 2},
		{FormatZigbee2MQTT, 1}, {FormatTasmota, 1}, {FormatLine, 1}, {FormatBinary, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/qos%d", tt.format, tt.qos), func(t *testing.T) {
			b := startBroker(t, nil)
			var rec bytes.Buffer
			rep, err := Run(t.Context(), Options{Broker: b.addr, Devices: devices, Count: count, Format: tt.format,
				QoS: tt.qos, Inflight: 4, Prefix: "t", Start: start, Interval: interval, Record: &rec})
			if err != nil {
				t.Fatal(err)
			}
			n := int64(devices * count)
			ppm := int64(tt.format.PointsPerMessage())
			if rep.Sent != n || rep.Acked != n || rep.Failed != 0 || rep.PointsAcked != n*ppm {
				t.Fatalf("report %+v, want %d sent and acked", rep, n)
			}
			if (tt.qos > 0) != (rep.P50Ms > 0) || rep.P99Ms < rep.P50Ms {
				t.Errorf("latency p50 %v p99 %v for qos %d", rep.P50Ms, rep.P99Ms, tt.qos)
			}
			want := map[string]bool{}
			for i := range devices {
				for k := range count {
					want[fmt.Sprintf("t-%04d %d ack", i, start+k*interval)] = true
				}
			}
			lines := strings.Split(strings.TrimSpace(rec.String()), "\n")
			if len(lines) != int(n) {
				t.Fatalf("record has %d lines, want %d", len(lines), n)
			}
			for _, l := range lines {
				if !want[l] {
					t.Errorf("unexpected record line %q", l)
				}
			}
			checkReceived(t, b, tt.format, want)
		})
	}
}

// checkReceived waits for the broker to route every message and checks
// topics and timestamps against the recorded set.
func checkReceived(t *testing.T, b *testBroker, f Format, want map[string]bool) {
	t.Helper()
	var got []received
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = b.received(); len(got) >= len(want) {
			break
		}
	}
	if len(got) != len(want) {
		t.Fatalf("broker received %d messages, want %d", len(got), len(want))
	}
	for _, m := range got {
		id := strings.Split(strings.TrimPrefix(m.topic, "zigbee2mqtt/"), "/")
		dev := id[0]
		if len(id) > 1 {
			dev = id[1]
		}
		if f.Topic(dev) != m.topic {
			t.Fatalf("topic %q not a %s topic", m.topic, f)
		}
		if ts, ok := payloadTS(t, f, m.payload); ok {
			if f == FormatTasmota {
				continue // second resolution; the start and interval are whole seconds anyway
			}
			if !want[fmt.Sprintf("%s %d ack", dev, ts)] {
				t.Errorf("broker got %s ts %d, not sent", dev, ts)
			}
		} else if len(m.payload) != 8 {
			t.Errorf("binary payload of %d bytes", len(m.payload))
		}
	}
}

func TestRunRate(t *testing.T) {
	b := startBroker(t, nil)
	rep, err := Run(t.Context(), Options{Broker: b.addr, Devices: 2, Rate: 40, Duration: 500 * time.Millisecond, QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 2 devices x 40/s x 0.5s = 40, give or take the first tick and scheduling.
	if rep.Sent < 30 || rep.Sent > 44 || rep.Acked != rep.Sent {
		t.Errorf("sent %d acked %d, want about 40 each", rep.Sent, rep.Acked)
	}
}

func TestRunConnectConcurrency(t *testing.T) {
	b := startBroker(t, nil)
	rep, err := Run(t.Context(), Options{Broker: b.addr, Devices: 5, ConnectConcurrency: 2, Count: 1, QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	// mochi routes a publish to subscribers after writing its PUBACK, so
	// the last message may reach the test's subscription after Run returns.
	var got int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = len(b.received()); got >= 5 {
			break
		}
	}
	if rep.Acked != 5 || got != 5 {
		t.Errorf("acked %d, broker received %d; want 5 each", rep.Acked, got)
	}
}

func TestRunStopsOnContext(t *testing.T) {
	b := startBroker(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	rep, err := Run(ctx, Options{Broker: b.addr, Devices: 2, Rate: 0, Duration: time.Hour, QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("run took %v after cancel", d)
	}
	if rep.Sent == 0 || rep.Acked != rep.Sent {
		t.Errorf("sent %d acked %d", rep.Sent, rep.Acked)
	}
}

func TestRunAuth(t *testing.T) {
	ledger := &auth.Ledger{Auth: auth.AuthRules{{Username: "u", Password: "p", Allow: true}},
		ACL: auth.ACLRules{{Username: "u", Filters: auth.Filters{"#": auth.ReadWrite}}}}
	b := startBroker(t, ledger)
	tests := []struct {
		name, user, pass string
		wantErr          bool
	}{
		{"right password", "u", "p", false},
		{"wrong password", "u", "x", true},
		{"anonymous", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(t.Context(), Options{Broker: b.addr, Count: 1, QoS: 1, Username: tt.user, Password: tt.pass,
				ConnectTimeout: 2 * time.Second})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestRunConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Run(t.Context(), Options{Broker: addr, Devices: 2, Count: 1, ConnectTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "connect sim-0000") {
		t.Fatalf("err = %v, want a connect error", err)
	}
}

func TestOptionsInvalid(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want error
	}{
		{"no broker", Options{Count: 1}, ErrOptions},
		{"bad format", Options{Broker: "x:1", Count: 1, Format: "xml"}, ErrFormat},
		{"bad qos", Options{Broker: "x:1", Count: 1, QoS: 3}, ErrOptions},
		{"no end", Options{Broker: "x:1"}, ErrOptions},
		{"negative rate", Options{Broker: "x:1", Count: 1, Rate: -1}, ErrOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Run(t.Context(), tt.o); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRunTopicOverride(t *testing.T) {
	b := startBroker(t, nil)
	_, err := Run(t.Context(), Options{Broker: b.addr, Devices: 2, Count: 1, Format: FormatLine, QoS: 1,
		Topic: "telegraf/{device}/env"})
	if err != nil {
		t.Fatal(err)
	}
	var topics []string
	for deadline := time.Now().Add(5 * time.Second); len(topics) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		topics = topics[:0]
		for _, m := range b.received() {
			topics = append(topics, m.topic)
		}
	}
	slices.Sort(topics)
	if want := []string{"telegraf/sim-0000/env", "telegraf/sim-0001/env"}; !slices.Equal(topics, want) {
		t.Fatalf("topics %v, want %v", topics, want)
	}
}
