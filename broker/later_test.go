package broker

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

func publishPacket(qos byte, id uint16, payload string) packets.Packet {
	return packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: qos},
		ProtocolVersion: 4, TopicName: "a/b", PacketID: id, Payload: []byte(payload),
	}
}

// TestPipelinedAcks checks the deferred path: the publishes a client sends
// together all reach the Handler before the first is durable (they can
// share a commit), no PUBACK leaves before their waits return, and then all
// of them do, in order.
func TestPipelinedAcks(t *testing.T) {
	rec := newRecorder()
	release := make(chan struct{})
	rec.wait = func(Message) error { <-release; return nil }
	_, addr := startBroker(t, testConfig(), rec)
	r := rawConnect(t, addr, 4, "pipe")
	var burst bytes.Buffer
	for id := uint16(1); id <= 3; id++ {
		burst.Write(encode(t, publishPacket(1, id, "v")))
	}
	r.write(burst.Bytes())
	for range 3 {
		waitMsg(t, rec.seen)
	}
	if pk, err := r.tryRead(4, 200*time.Millisecond); err == nil {
		t.Fatalf("got packet type %d id %d before the publishes were durable", pk.FixedHeader.Type, pk.PacketID)
	}
	close(release)
	for id := uint16(1); id <= 3; id++ {
		ack := r.read(4)
		if ack.FixedHeader.Type != packets.Puback || ack.PacketID != id {
			t.Fatalf("got type %d id %d, want PUBACK %d", ack.FixedHeader.Type, ack.PacketID, id)
		}
	}
	if n := len(rec.messages()); n != 3 {
		t.Fatalf("durable messages = %d, want 3", n)
	}
}

// TestPipelinedFailure checks that a QoS 1 publish whose wait fails is
// never acknowledged: the connection ends, reported as ErrNotDurable, and
// the refusal is counted.
func TestPipelinedFailure(t *testing.T) {
	rec := newRecorder()
	rec.wait = failOn("bad")
	b, addr := startBroker(t, testConfig(), rec)
	r := rawConnect(t, addr, 4, "pipe")
	r.write(append(encode(t, publishPacket(1, 1, "ok")), encode(t, publishPacket(1, 2, "bad"))...))
	for {
		pk, err := r.tryRead(4, 3*time.Second)
		if err != nil {
			break // closed (a timeout fails below: no disconnect recorded)
		}
		if pk.FixedHeader.Type == packets.Puback && pk.PacketID == 2 {
			t.Fatal("the publish that did not become durable was acknowledged")
		}
	}
	waitFor(t, func() bool { _, ok := rec.disconnected("pipe"); return ok })
	if err, _ := rec.disconnected("pipe"); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("disconnect cause %v, want ErrNotDurable", err)
	}
	if n := b.Rejected(); n != 1 {
		t.Fatalf("rejected = %d, want 1", n)
	}
}

// TestPipelinedFailureQoS0 checks that a QoS 0 publish whose wait fails is
// counted and the connection carries on.
func TestPipelinedFailureQoS0(t *testing.T) {
	rec := newRecorder()
	rec.wait = failOn("bad")
	b, addr := startBroker(t, testConfig(), rec)
	r := rawConnect(t, addr, 4, "pipe")
	r.write(append(encode(t, publishPacket(0, 0, "bad")), encode(t, publishPacket(1, 5, "ok"))...))
	if ack := r.read(4); ack.FixedHeader.Type != packets.Puback || ack.PacketID != 5 {
		t.Fatalf("got type %d id %d, want PUBACK 5", ack.FixedHeader.Type, ack.PacketID)
	}
	if n := b.Rejected(); n != 1 {
		t.Fatalf("rejected = %d, want 1", n)
	}
	if got := rec.messages(); len(got) != 1 || string(got[0].Payload) != "ok" {
		t.Fatalf("durable messages %v, want the QoS 1 one", got)
	}
}

// TestPipelinedWaitOnClose checks that publishes handed over just before
// the client disconnects are still waited for (the registry and rules must
// hear of stored readings) when the connection closes.
func TestPipelinedWaitOnClose(t *testing.T) {
	rec := newRecorder()
	rec.wait = func(Message) error { time.Sleep(50 * time.Millisecond); return nil }
	_, addr := startBroker(t, testConfig(), rec)
	r := rawConnect(t, addr, 4, "pipe")
	disc := encode(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	r.write(append(encode(t, publishPacket(1, 1, "last")), disc...))
	waitFor(t, func() bool { return len(rec.messages()) == 1 })
}

// failOn is a recorder wait that fails the publishes with that payload.
func failOn(payload string) func(Message) error {
	return func(m Message) error {
		if string(m.Payload) == payload {
			return errors.New("disk gone")
		}
		return nil
	}
}

// TestPipelinedHeldBound checks that deliveries to a client cannot pile up
// without bound while its own publish waits for the disk: past
// maxHeldUnsettled the connection ends.
func TestPipelinedHeldBound(t *testing.T) {
	rec := newRecorder()
	release := make(chan struct{})
	rec.wait = func(Message) error { <-release; return nil }
	defer close(release)
	b, addr := startBroker(t, testConfig(), rec)
	r := rawConnect(t, addr, 4, "pipe")
	r.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4,
		PacketID: 1, Filters: packets.Subscriptions{{Filter: "fire", Qos: 0}}})
	if ack := r.read(4); ack.FixedHeader.Type != packets.Suback {
		t.Fatalf("got type %d, want SUBACK", ack.FixedHeader.Type)
	}
	r.send(publishPacket(1, 2, "hold")) // its wait blocks until release
	waitMsg(t, rec.seen)
	payload := bytes.Repeat([]byte("x"), 64<<10)
	for i := 0; i < 2*maxHeldUnsettled/len(payload); i++ {
		if err := b.Publish("fire", payload, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	if !r.closed(5 * time.Second) {
		t.Fatal("connection still open with more than maxHeldUnsettled held")
	}
}
