package broker

import (
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// Pipelined acknowledgements.
//
// A Handler may return a wait function instead of blocking until a publish
// is durable (Handler.HandlePublish). The connection's goroutine then goes
// on with the client's next packets already read, and the store commits
// them all in one group; only before it blocks to read from the socket
// again does it call the waits, in order. Until they have all returned,
// every byte written to the client (the PUBACKs mochi wrote after each
// OnPublish above all) stays in the connection's buffer, so no
// acknowledgement leaves before what it acknowledges is durable, and then
// they leave together. A client with 16 publishes in flight gets them
// stored in one commit and acknowledged in one write(2), instead of one
// commit and one wake-up each.
//
// When a wait fails, nothing held is sent: a QoS 1/2 publish ends the
// connection (after its last will), so the client resends after
// reconnecting, as for a publish refused at once under MQTT 3.1.1; a QoS 0
// publish is counted and logged. mochi routes a message to subscribers when
// OnPublish returns, so subscribers may see a message before it is durable,
// as with any broker that stores nothing.

// Writes to the client from other goroutines (deliveries of its
// subscriptions) are held meanwhile too, up to maxHeldUnsettled bytes; past
// that the connection is closed rather than memory grown without bound.

// maxLater bounds the publishes of one connection waiting for durability;
// the goroutine waits for them when it reaches it, even with input left.
const maxLater = 64

// laterPublish is a publish handed over with its wait.
type laterPublish struct {
	wait  func() error
	topic string
	qos   byte
}

// later records the wait of a publish just handed to the Handler. Called on
// the connection's goroutine, between reads.
func (c *guardedConn) later(topic string, qos byte, wait func() error) {
	c.wmu.Lock()
	c.pending = append(c.pending, laterPublish{wait: wait, topic: topic, qos: qos})
	full := len(c.pending) >= maxLater
	c.wmu.Unlock()
	if full {
		_ = c.settle()
	}
}

// settled reports whether every publish handed over is known durable.
// Callers hold wmu.
func (c *guardedConn) settled() bool { return len(c.pending) == 0 && c.unsettled == 0 }

// settle calls the pending waits in order. When one of a QoS 1/2 publish
// failed, the held bytes are dropped, later writes fail and the client is
// stopped; the error is returned.
func (c *guardedConn) settle() error {
	c.wmu.Lock()
	ps := c.pending
	c.pending = nil
	c.unsettled += len(ps)
	c.wmu.Unlock()
	if len(ps) == 0 {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.werr
	}
	cl := c.client.Load()
	var failed error
	for i := range ps {
		err := ps[i].wait()
		if err == nil {
			continue
		}
		if c.g.notDurable != nil && cl != nil {
			c.g.notDurable(cl, ps[i].topic, ps[i].qos, err)
		}
		if ps[i].qos > 0 && failed == nil {
			failed = err
		}
	}
	c.wmu.Lock()
	c.unsettled -= len(ps)
	if failed != nil && c.werr == nil {
		c.werr = fmt.Errorf("%w: %w", ErrNotDurable, failed)
		c.wbuf = nil
	}
	werr := c.werr
	c.wmu.Unlock()
	if failed != nil {
		if c.g.stop != nil && cl != nil {
			c.g.stop(cl, failed)
		} else {
			_ = c.Conn.Close()
		}
	}
	return werr
}

// deferred hands wait to the connection of cl when it can hold writes, and
// otherwise (an inline or foreign connection) calls it now.
func deferred(cl *mqtt.Client, topic string, qos byte, wait func() error) error {
	if gc, ok := cl.Net.Conn.(*guardedConn); ok {
		gc.later(topic, qos, wait)
		return nil
	}
	return wait()
}
