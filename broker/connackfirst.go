package broker

import "errors"

// mochi v2.7.9 adds a reconnecting client to its routing table (with the
// subscriptions inherited from its session) before it writes the CONNACK
// (server.go attachClient: Clients.Add, then SendConnack). A message routed
// to the client in between reaches the wire first, and the client sees a
// PUBLISH where [MQTT-3.2.0-1] promises a CONNACK; FuzzConn found it.
// connackFirst holds such publishes until the CONNACK has been written.
type connackFirst struct {
	done bool   // a CONNACK went out: everything passes
	held []byte // PUBLISH packets written before the CONNACK
}

// maxHeldEarly bounds the publishes held before a CONNACK: the window is
// short, so more means the CONNACK is not coming and the connection ends.
const maxHeldEarly = 1 << 20

var errHeldEarly = errors.New("broker: publishes before CONNACK over the limit")

// Fixed-header packet types (MQTT 3.1.1 and 5, section 2.1.2).
const (
	typeConnack = 2
	typePublish = 3
)

// order returns the bytes to send now for a write of p: p itself once the
// CONNACK is out; before that, p without its PUBLISH packets, which are
// sent right after the CONNACK. Bytes that do not split into whole packets
// go out as they are. It fails when more than maxHeldEarly bytes wait.
func (g *connackFirst) order(p []byte) ([]byte, error) {
	if g.done {
		return p, nil
	}
	out, err := g.split(p)
	if len(g.held) > maxHeldEarly {
		g.held = nil
		return nil, errHeldEarly
	}
	return out, err
}

func (g *connackFirst) split(p []byte) ([]byte, error) {
	var out []byte
	for rest := p; len(rest) > 0; {
		n, ok := packetLen(rest)
		if !ok {
			return append(out, rest...), nil
		}
		pk := rest[:n]
		rest = rest[n:]
		switch pk[0] >> 4 {
		case typePublish:
			if !g.done {
				g.held = append(g.held, pk...)
				continue
			}
		case typeConnack:
			if !g.done {
				g.done = true
				out = append(append(out, pk...), g.held...)
				g.held = nil
				continue
			}
		}
		out = append(out, pk...)
	}
	return out, nil
}

// packetLen is the length of the packet at the start of b (fixed header
// byte, remaining length varint, body), or false when b does not hold one
// whole packet.
func packetLen(b []byte) (int, bool) {
	rem, mult := 0, 1
	for i := 1; i < len(b) && i <= 4; i++ {
		rem += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			n := 1 + i + rem
			return n, n <= len(b)
		}
		mult *= 128
	}
	return 0, false
}
