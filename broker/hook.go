package broker

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// hook connects mochi's lifecycle to auth, the limits and the Handler.
type hook struct {
	mqtt.HookBase
	b *Broker
}

func (h *hook) ID() string { return "edgevault" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnConnect,
		mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnPublish,
	}, []byte{b})
}

// OnConnect caps the keepalive: 0 (none) or above the maximum becomes the
// maximum, announced to MQTT 5 clients as Server Keep Alive [MQTT-3.2.2-21].
func (h *hook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	maxKA := uint16(h.b.cfg.Limits.MaxKeepalive / time.Second)
	if ka := cl.State.Keepalive; ka == 0 || ka > maxKA {
		cl.State.Keepalive = maxKA
		cl.State.ServerKeepalive = true
	}
	return nil
}

func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	laddr := h.b.listenerAddr(cl.Net.Listener)
	reason := h.b.auth.authenticate(user, pk.Connect.Password, laddr, cl.Net.Remote)
	if reason == "" {
		if gc, ok := cl.Net.Conn.(*guardedConn); ok {
			gc.authenticated()
		}
		return true
	}
	h.b.log.Warn("mqtt connect refused", "reason", reason, "client", cl.ID,
		"username", user, "remote", cl.Net.Remote, "listener", cl.Net.Listener)
	return false
}

func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	want := accessRead
	if write {
		want = accessWrite
	}
	ok := h.b.auth.allowed(cl.ID, string(cl.Properties.Username), topic, want)
	if !ok {
		h.b.denied[boolIndex(write)].Add(1)
		h.b.log.Info("mqtt acl denied", "client", cl.ID, "username", string(cl.Properties.Username),
			"topic", topic, "write", write)
	}
	return ok
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if gc, ok := cl.Net.Conn.(*guardedConn); ok {
		gc.client.Store(cl)
	}
	h.b.handler.ClientConnected(cl.ID, string(cl.Properties.Username), cl.Net.Remote)
}

// OnDisconnect reports the end of a connection. A session taken over by a
// new connection with the same client id is not reported: the client is
// still connected.
func (h *hook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	// mochi marks the old client taken over only after it has stopped it
	// (inheritClientSession), so its stop cause is what tells in time.
	if cl.IsTakenOver() || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) || cl.Net.Conn == nil { // nil: a session restored at start
		return
	}
	if err == nil {
		if cause := cl.StopCause(); cause != nil && !errors.Is(cause, packets.CodeDisconnect) {
			err = cause
		}
	}
	h.b.handler.ClientDisconnected(cl.ID, err)
}

// OnPacketRead enforces max_topic_length. mochi passes on only errors
// wrapping ErrRejectPacket; the error ends the read loop, which closes the
// connection.
func (h *hook) OnPacketRead(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	limit := h.b.cfg.Limits.MaxTopicLength
	if len(pk.TopicName) > limit {
		return pk, fmt.Errorf("%w: %w: topic of %d bytes", packets.ErrRejectPacket, ErrTopicTooLong, len(pk.TopicName))
	}
	for _, f := range pk.Filters {
		if len(f.Filter) > limit {
			return pk, fmt.Errorf("%w: %w: filter of %d bytes", packets.ErrRejectPacket, ErrTopicTooLong, len(f.Filter))
		}
	}
	return pk, nil
}

// OnPublish hands a client's PUBLISH to the Handler before mochi
// acknowledges or routes it (see processPublish: the ack is written only
// after this hook returns without error).
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	m := Message{
		ClientID: cl.ID, Username: string(cl.Properties.Username), Topic: pk.TopicName,
		Payload: pk.Payload, QoS: pk.FixedHeader.Qos, Retain: pk.FixedHeader.Retain,
		Received: h.b.cfg.Now(),
	}
	wait, err := h.b.handler.HandlePublish(m)
	if err == nil && wait != nil {
		err = deferred(cl, pk.TopicName, pk.FixedHeader.Qos, wait)
	}
	if err == nil {
		return pk, nil
	}
	h.b.rejected.Add(1)
	h.b.log.Warn("mqtt publish not acknowledged", "client", cl.ID, "topic", pk.TopicName,
		"qos", pk.FixedHeader.Qos, "error", err)
	h.refuse(cl, pk, err)
	return pk, packets.ErrRejectPacket
}

// refuse answers a publish the Handler could not make durable. QoS 0 is
// dropped (there is nothing to answer). MQTT 5 gets a PUBACK/PUBREC with a
// failure reason code; MQTT 3.1.1 has none, so the connection is closed and
// the client retransmits after reconnecting.
func (h *hook) refuse(cl *mqtt.Client, pk packets.Packet, err error) {
	if pk.FixedHeader.Qos == 0 {
		return
	}
	if cl.Properties.ProtocolVersion == 5 {
		code := packets.ErrUnspecifiedError
		if errors.Is(err, ErrOverloaded) {
			code = packets.ErrQuotaExceeded
		}
		typ := byte(packets.Puback)
		if pk.FixedHeader.Qos == 2 {
			typ = packets.Pubrec
		}
		ack := packets.Packet{
			FixedHeader: packets.FixedHeader{Type: typ},
			PacketID:    pk.PacketID,
			ReasonCode:  code.Code,
			Properties:  packets.Properties{ReasonString: code.Reason},
		}
		if werr := cl.WritePacket(ack); werr == nil {
			return
		}
	}
	h.b.sendWill(cl)
	cl.Stop(fmt.Errorf("%w: %w", ErrNotDurable, err))
}

// notDurable logs and counts a publish whose deferred wait failed.
func (b *Broker) notDurable(cl *mqtt.Client, topic string, qos byte, err error) {
	b.rejected.Add(1)
	b.log.Warn("mqtt publish not acknowledged", "client", cl.ID, "topic", topic, "qos", qos, "error", err)
}

// stopNotDurable ends the connection of a client with a QoS 1/2 publish
// that did not become durable (MQTT 3.1.1 has no failure code, and by then
// mochi has written the success code): its last will goes out, and the
// client resends after reconnecting.
func (b *Broker) stopNotDurable(cl *mqtt.Client, err error) {
	b.sendWill(cl)
	cl.Stop(fmt.Errorf("%w: %w", ErrNotDurable, err))
}
