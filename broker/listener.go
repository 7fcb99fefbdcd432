package broker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// guard protects the node from one connection: it bounds connections that
// have not authenticated yet, reads their CONNECT itself under a deadline
// (memory grows only with bytes actually received, not with the declared
// length), and turns a panic in the packet path (mochi's decoders included)
// into a closed connection.
type guard struct {
	log            *slog.Logger
	maxPending     int64
	maxPacket      int
	connectTimeout time.Duration

	// abandon finishes the session of a client whose goroutine panicked
	// (mochi's own clean-up after its read loop did not run).
	abandon func(cl *mqtt.Client, cause error)
	// notDurable is told about each publish whose deferred wait failed, and
	// stops the client when one of them was QoS 1/2 (see later.go).
	notDurable func(cl *mqtt.Client, topic string, qos byte, err error)
	stop       func(cl *mqtt.Client, err error)

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}

	pending atomic.Int64 // connections not yet authenticated
	wg      sync.WaitGroup
	panics  atomic.Int64
	refused atomic.Int64           // max_pending_connections reached
	stack   atomic.Pointer[string] // of the last recovered panic

	// Connections refused, by reason, and packets over max_packet_size.
	refusedMaxClients, refusedAuth, refusedInvalid, noConnect, tooLarge atomic.Int64
}

func newGuard(l Limits, log *slog.Logger) *guard {
	return &guard{
		log:            log,
		conns:          map[net.Conn]struct{}{},
		maxPending:     int64(l.MaxPendingConnections),
		maxPacket:      l.MaxPacketSize,
		connectTimeout: l.ConnectTimeout,
	}
}

// serve runs establish for one accepted connection under the guard.
func (g *guard) serve(establish listeners.EstablishFn, id string, c net.Conn) (err error) {
	remote := c.RemoteAddr().String()
	if g.pending.Add(1) > g.maxPending {
		g.pending.Add(-1)
		g.refused.Add(1)
		g.log.Warn("mqtt connection refused: too many unauthenticated connections",
			"remote", remote, "listener", id, "max", g.maxPending)
		return c.Close()
	}
	gc := &guardedConn{Conn: c, g: g}
	defer gc.authenticated() // releases the pending slot if CONNECT never succeeded
	g.wg.Add(1)
	defer g.wg.Done()
	g.track(c, true)
	defer g.track(c, false)
	defer func() {
		if r := recover(); r != nil {
			stack := fmt.Sprintf("%v\n%s", r, debug.Stack())
			g.stack.Store(&stack)
			g.panics.Add(1)
			g.log.Error("mqtt connection panicked; closed", "remote", remote, "panic", stack)
			_ = gc.Close()
			if cl := gc.client.Load(); cl != nil && g.abandon != nil {
				g.abandon(cl, fmt.Errorf("%w: %v", ErrPanic, r))
			}
			err = nil
		}
	}()
	// mochi sets no deadline before CONNECT; after it, the keepalive one
	// (refreshDeadline) replaces this.
	_ = c.SetDeadline(time.Now().Add(g.connectTimeout))
	if gc.prefix, err = readConnect(c, g.maxPacket); err != nil {
		g.noConnect.Add(1)
		g.count(err)
		g.log.Info("mqtt connection closed before CONNECT", "remote", remote, "listener", id, "error", err)
		return c.Close()
	}
	if err := establish(id, gc); err != nil {
		g.count(err)
		if gc.client.Load() == nil {
			g.countRefusal(err)
		}
		g.log.Info("mqtt connection closed", "remote", remote, "listener", id, "error", err)
	}
	return nil
}

func (g *guard) count(err error) {
	if errors.Is(err, packets.ErrPacketTooLarge) {
		g.tooLarge.Add(1)
	}
}

// countRefusal classifies why mochi refused a CONNECT (its attachClient
// returns the CONNACK code as the error).
func (g *guard) countRefusal(err error) {
	switch {
	case errors.Is(err, packets.ErrServerBusy):
		g.refusedMaxClients.Add(1)
	case errors.Is(err, packets.ErrBadUsernameOrPassword):
		g.refusedAuth.Add(1)
	default:
		g.refusedInvalid.Add(1)
	}
}

func (g *guard) track(c net.Conn, open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if open {
		g.conns[c] = struct{}{}
	} else {
		delete(g.conns, c)
	}
}

// closeAll closes every connection, those still in CONNECT included (mochi
// does not know them yet), and waits for their goroutines to return.
func (g *guard) closeAll() {
	g.mu.Lock()
	for c := range g.conns {
		_ = c.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// readConnect reads the first packet, which must be a CONNECT of at most
// maxPacket bytes, and returns its bytes. The body buffer grows with the
// bytes received, so a peer declaring a large packet and sending little
// costs little.
func readConnect(c net.Conn, maxPacket int) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:1]); err != nil {
		return nil, fmt.Errorf("read fixed header: %w", err)
	}
	if hdr[0] != packets.Connect<<4 {
		return nil, fmt.Errorf("%w: first byte %#x", errNotConnect, hdr[0])
	}
	n, size := 0, 1
	for mul := 1; ; mul *= 128 {
		if size == len(hdr) {
			return nil, fmt.Errorf("%w: remaining length", errMalformed)
		}
		if _, err := io.ReadFull(c, hdr[size:size+1]); err != nil {
			return nil, fmt.Errorf("read remaining length: %w", err)
		}
		n += int(hdr[size]&0x7f) * mul
		size++
		if hdr[size-1]&0x80 == 0 {
			break
		}
	}
	if n+1 > maxPacket {
		return nil, fmt.Errorf("%w: CONNECT of %d bytes", packets.ErrPacketTooLarge, n+1)
	}
	buf := bytes.NewBuffer(append(make([]byte, 0, size+min(n, 512)), hdr[:size]...))
	if _, err := io.CopyN(buf, c, int64(n)); err != nil {
		return nil, fmt.Errorf("read CONNECT body: %w", err)
	}
	return buf.Bytes(), nil
}

var (
	errNotConnect = errors.New("first packet is not CONNECT")
	errMalformed  = errors.New("malformed packet")
)

// guardedConn replays the CONNECT read by the guard to mochi, then reads
// from the connection. It also coalesces writes: while the connection's
// goroutine works through packets it has read, what is written to the
// client (PUBACKs above all) is buffered, and goes out in one write(2) when
// that goroutine next reads. A client pipelining 16 QoS 1 publishes gets
// its 16 acknowledgements in one segment instead of 16 (the profile put a
// write(2) per PUBACK at a quarter of the broker's CPU). A write while the
// goroutine waits for input goes straight out, so nothing waits for long.
//
// Before it reads again, the goroutine waits for the publishes it handed
// over to become durable (later.go); nothing written after such a publish
// leaves before then.
type guardedConn struct {
	net.Conn
	g      *guard
	prefix []byte
	once   sync.Once
	client atomic.Pointer[mqtt.Client] // set once the session is established

	wmu     sync.Mutex // guards the fields below and writes to Conn
	waiting bool       // the reader is (about to be) blocked in Read
	wbuf    []byte     // writes held while the reader processes packets
	werr    error      // the error of a held write that failed on flush
	order   connackFirst

	// Publishes handed to the Handler whose durability is not yet known
	// (later.go): pending are not yet waited for, unsettled are being.
	pending   []laterPublish
	unsettled int
}

// maxHeldWrites bounds the bytes held before they are flushed anyway.
const maxHeldWrites = 64 << 10

// maxHeldUnsettled bounds the bytes held while publishes of the client are
// not known durable (they cannot be flushed then); past it the connection
// fails with errHeldUnsettled.
const maxHeldUnsettled = 4 << 20

var errHeldUnsettled = errors.New("broker: more than 4 MiB for the client held while its publishes wait for the disk")

func (c *guardedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	if err := c.settle(); err != nil {
		return 0, err
	}
	c.wmu.Lock()
	err := c.flushLocked()
	c.waiting = true
	c.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	c.wmu.Lock()
	c.waiting = false
	c.wmu.Unlock()
	return n, err
}

func (c *guardedConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	n := len(p)
	if !c.order.done {
		var err error
		if p, err = c.order.order(p); err != nil {
			return 0, err
		}
		if len(p) == 0 {
			return n, nil
		}
	}
	if c.waiting && len(c.wbuf) == 0 && c.settled() {
		if _, err := c.Conn.Write(p); err != nil {
			return 0, err
		}
		return n, nil
	}
	if !c.settled() && len(c.wbuf)+len(p) > maxHeldUnsettled {
		// Deliveries to this client pile up while its own publishes wait
		// for the disk: end the connection rather than grow without bound
		// (mochi's write loop only logs a failed write; the closed socket
		// and the failed read that follows end the client).
		c.werr, c.wbuf = errHeldUnsettled, nil
		c.g.log.Warn("mqtt connection closed", "remote", c.RemoteAddr().String(), "error", c.werr)
		_ = c.Conn.Close()
		return 0, c.werr
	}
	c.wbuf = append(c.wbuf, p...)
	if len(c.wbuf) >= maxHeldWrites {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// flushLocked sends what is held, unless a publish it may acknowledge is
// not known to be durable yet.
func (c *guardedConn) flushLocked() error {
	if c.werr != nil || len(c.wbuf) == 0 || !c.settled() {
		return c.werr
	}
	_, c.werr = c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > maxHeldWrites {
		c.wbuf = nil
	}
	return c.werr
}

// Close finishes the publishes handed over (their readings are stored
// whatever happens to the connection, and the registry and rules must hear
// of them), then sends what is held (acknowledgements, a refusal, a
// DISCONNECT) before closing.
func (c *guardedConn) Close() error {
	_ = c.settle()
	c.wmu.Lock()
	c.flushLocked()
	c.wmu.Unlock()
	return c.Conn.Close()
}

// authenticated releases the connection's pending slot, once.
func (c *guardedConn) authenticated() {
	c.once.Do(func() { c.g.pending.Add(-1) })
}

// guardedListener runs a mochi listener with every connection under a guard.
type guardedListener struct {
	listeners.Listener
	g *guard
}

func (l *guardedListener) Serve(establish listeners.EstablishFn) {
	l.Listener.Serve(func(id string, c net.Conn) error {
		return l.g.serve(establish, id, c)
	})
}

// abandon ends the session of cl after its connection goroutine panicked:
// what mochi's attachClient would have done after its read loop.
func (b *Broker) abandon(cl *mqtt.Client, cause error) {
	b.sendWill(cl)
	cl.Stop(cause)
	if cl.IsTakenOver() {
		return
	}
	expire := !persistent(cl)
	if b.sessions != nil {
		b.sessions.OnDisconnect(cl, cause, expire)
	}
	if expire {
		cl.ClearInflights()
		b.srv.UnsubscribeClient(cl)
		b.srv.Clients.Delete(cl.ID)
	}
	b.handler.ClientDisconnected(cl.ID, cause)
}

// sendWill publishes cl's last will, when it has one, before the broker
// closes the connection itself (mochi only does so when the read loop ends
// with an error, which a refused publish does not produce).
func (b *Broker) sendWill(cl *mqtt.Client) {
	if !atomic.CompareAndSwapUint32(&cl.Properties.Will.Flag, 1, 0) {
		return
	}
	w := cl.Properties.Will
	if err := b.srv.Publish(w.TopicName, w.Payload, w.Retain, w.Qos); err != nil {
		b.log.Warn("mqtt last will not sent", "client", cl.ID, "topic", w.TopicName, "error", err)
	}
}
