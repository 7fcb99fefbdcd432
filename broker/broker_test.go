package broker

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
)

func waitMsg(t *testing.T, ch <-chan Message) Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(3 * time.Second):
		t.Fatal("no message")
	}
	return Message{}
}

// TestHandlerBeforeAck checks that a publish reaches the Handler before the
// client's token completes (PUBACK / PUBREC..PUBCOMP) and before any
// subscriber sees it.
func TestHandlerBeforeAck(t *testing.T) {
	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			rec := newRecorder()
			rec.gate = make(chan struct{})
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			cfg := testConfig()
			cfg.Now = func() time.Time { return now }
			_, addr := startBroker(t, cfg, rec)
			routed := make(chan paho.Message, 1)
			sub := connect(t, pahoOpts(addr, "sub"))
			sub.Subscribe("t/#", 2, func(_ paho.Client, m paho.Message) { routed <- m }).Wait()
			pub := connect(t, pahoOpts(addr, "pub").SetUsername("alice"))

			tok := pub.Publish("t/x", qos, false, []byte("v1"))
			m := waitMsg(t, rec.seen)
			if qos > 0 && tok.WaitTimeout(200*time.Millisecond) {
				t.Fatal("publish acknowledged before the handler returned")
			}
			select {
			case <-routed:
				t.Fatal("routed before the handler returned")
			default:
			}
			close(rec.gate)
			if !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
			want := Message{ClientID: "pub", Username: "alice", Topic: "t/x", Payload: []byte("v1"), QoS: qos, Received: now}
			if fmt.Sprint(m) != fmt.Sprint(want) {
				t.Fatalf("handler got %+v, want %+v", m, want)
			}
			select {
			case <-routed:
			case <-time.After(3 * time.Second):
				t.Fatal("accepted message not routed")
			}
		})
	}
}

// TestHandlerErrorV311 checks that a refused QoS 1 publish is not
// acknowledged, the 3.1.1 connection is closed, and the persistent session
// makes the client retransmit it after reconnecting.
func TestHandlerErrorV311(t *testing.T) {
	rec := newRecorder()
	var calls atomic.Int32
	rec.fail = func(Message) error {
		if calls.Add(1) == 1 {
			return errors.New("store full")
		}
		return nil
	}
	_, addr := startBroker(t, testConfig(), rec)
	lost := make(chan error, 1)
	opts := pahoOpts(addr, "dev1").SetCleanSession(false).SetAutoReconnect(true).
		SetMaxReconnectInterval(100 * time.Millisecond).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	c := connect(t, opts)

	// paho completes the original token without error when it resends on
	// resume, so the retransmission is observed at the handler instead.
	c.Publish("d/1", 1, false, []byte("x"))
	select {
	case <-lost:
	case <-time.After(3 * time.Second):
		t.Fatal("connection not closed after refused publish")
	}
	waitFor(t, func() bool { return len(rec.messages()) == 1 })
	if got := rec.messages(); string(got[0].Payload) != "x" {
		t.Fatalf("stored %v, want the one message", got)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler calls = %d, want 2 (refused, then retransmitted)", n)
	}
}

// TestHandlerErrorV311Raw checks on the wire that a refused QoS 1/2 publish
// gets no PUBACK/PUBREC and closes the connection, reported as ErrNotDurable.
func TestHandlerErrorV311Raw(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			rec := newRecorder()
			rec.fail = func(Message) error { return errors.New("disk full") }
			_, addr := startBroker(t, testConfig(), rec)
			r := rawConnect(t, addr, 4, "raw")
			r.send(packets.Packet{
				FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: qos},
				ProtocolVersion: 4, TopicName: "a/b", PacketID: 9, Payload: []byte("p"),
			})
			if pk, err := r.tryRead(4, 3*time.Second); err == nil {
				t.Fatalf("got packet type %d, want the connection closed", pk.FixedHeader.Type)
			}
			waitFor(t, func() bool { _, ok := rec.disconnected("raw"); return ok })
			if err, _ := rec.disconnected("raw"); !errors.Is(err, ErrNotDurable) {
				t.Fatalf("disconnect cause %v, want ErrNotDurable", err)
			}
		})
	}
}

// TestHandlerErrorV5 checks the reason codes of a refused publish for MQTT 5.
func TestHandlerErrorV5(t *testing.T) {
	cases := []struct {
		name string
		qos  byte
		err  error
		typ  byte
		code byte
	}{
		{"qos1 overloaded", 1, fmt.Errorf("queue: %w", ErrOverloaded), packets.Puback, 0x97},
		{"qos1 other", 1, errors.New("disk"), packets.Puback, 0x80},
		{"qos2 overloaded", 2, ErrOverloaded, packets.Pubrec, 0x97},
		{"qos2 other", 2, errors.New("disk"), packets.Pubrec, 0x80},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			rec.fail = func(Message) error { return tc.err }
			_, addr := startBroker(t, testConfig(), rec)
			r := rawConnect(t, addr, 5, "v5")
			r.send(packets.Packet{
				FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: tc.qos},
				ProtocolVersion: 5, TopicName: "a/b", PacketID: 7, Payload: []byte("p"),
			})
			ack := r.read(5)
			if ack.FixedHeader.Type != tc.typ || ack.PacketID != 7 || ack.ReasonCode != tc.code {
				t.Fatalf("got type %d id %d code %#x, want type %d id 7 code %#x",
					ack.FixedHeader.Type, ack.PacketID, ack.ReasonCode, tc.typ, tc.code)
			}
			r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
			if pk := r.read(5); pk.FixedHeader.Type != packets.Pingresp {
				t.Fatalf("connection unusable after refusal: got type %d", pk.FixedHeader.Type)
			}
			if len(rec.messages()) != 0 {
				t.Fatal("refused message recorded")
			}
		})
	}
}

func TestRetainedAndWill(t *testing.T) {
	rec := newRecorder()
	_, addr := startBroker(t, testConfig(), rec)
	pub := connect(t, pahoOpts(addr, "pub"))
	if tok := pub.Publish("state/lamp", 1, true, []byte("on")); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatalf("publish retained: %v", tok.Error())
	}
	got := make(chan paho.Message, 4)
	sub := connect(t, pahoOpts(addr, "sub"))
	sub.Subscribe("state/#", 1, func(_ paho.Client, m paho.Message) { got <- m }).Wait()
	select {
	case m := <-got:
		if m.Topic() != "state/lamp" || string(m.Payload()) != "on" || !m.Retained() {
			t.Fatalf("retained: got %s %q retained=%v", m.Topic(), m.Payload(), m.Retained())
		}
	case <-time.After(3 * time.Second):
		t.Fatal("retained message not delivered")
	}

	r := dialRaw(t, addr)
	cp := connectPacket(4, "willer")
	cp.Connect.WillFlag, cp.Connect.WillTopic, cp.Connect.WillPayload = true, "state/willer", []byte("offline")
	r.send(cp)
	r.read(4)
	_ = r.c.Close() // no DISCONNECT: the will must be published
	select {
	case m := <-got:
		if m.Topic() != "state/willer" || string(m.Payload()) != "offline" {
			t.Fatalf("will: got %s %q", m.Topic(), m.Payload())
		}
	case <-time.After(3 * time.Second):
		t.Fatal("last will not delivered")
	}
	waitFor(t, func() bool { err, ok := rec.disconnected("willer"); return ok && err != nil })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMaxClients(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.MaxClients = 2
	b, addr := startBroker(t, cfg, newRecorder())
	connect(t, pahoOpts(addr, "c1"))
	connect(t, pahoOpts(addr, "c2"))
	if b.Clients() != 2 {
		t.Fatalf("Clients() = %d, want 2", b.Clients())
	}
	c := paho.NewClient(pahoOpts(addr, "c3"))
	tok := c.Connect()
	tok.WaitTimeout(3 * time.Second)
	if tok.Error() == nil {
		c.Disconnect(0)
		t.Fatal("third client accepted beyond max_clients")
	}
	r := dialRaw(t, addr)
	r.send(connectPacket(5, "c4"))
	if ack := r.read(5); ack.ReasonCode != packets.ErrServerBusy.Code {
		t.Fatalf("v5 connack code %#x, want server busy", ack.ReasonCode)
	}
	waitFor(t, func() bool { return b.Stats().RefusedMaxClients == 2 })
}

func TestServerPublish(t *testing.T) {
	b, addr := startBroker(t, testConfig(), newRecorder())
	got := make(chan paho.Message, 1)
	sub := connect(t, pahoOpts(addr, "sub"))
	sub.Subscribe("alerts/#", 1, func(_ paho.Client, m paho.Message) { got <- m }).Wait()
	if err := b.Publish("alerts/hot", []byte("42"), false, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m.Payload()) != "42" {
			t.Fatalf("payload %q", m.Payload())
		}
	case <-time.After(3 * time.Second):
		t.Fatal("server publish not delivered")
	}
	if err := b.Publish("alerts/#", nil, false, 0); err == nil {
		t.Fatal("wildcard topic accepted")
	}
}

func TestStartCloseLifecycle(t *testing.T) {
	b, err := New(testConfig(), newRecorder(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish("a", nil, false, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish before start: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("second start: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("start after close: %v", err)
	}
}
