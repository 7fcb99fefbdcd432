package broker

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
)

// recorder is a Handler that records what it sees. When gate is set,
// HandlePublish blocks until a value is sent on it; fail decides the error.
type recorder struct {
	gate chan struct{}
	fail func(m Message) error
	// wait, when set, makes HandlePublish accept at once and return a wait
	// that calls it (the pipelined path).
	wait func(m Message) error

	mu     sync.Mutex // guards the following
	msgs   []Message
	conns  []string
	discon map[string]error
	seen   chan Message
}

func newRecorder() *recorder {
	return &recorder{discon: map[string]error{}, seen: make(chan Message, 1024)}
}

func (r *recorder) HandlePublish(m Message) (func() error, error) {
	r.seen <- m
	if r.gate != nil {
		<-r.gate
	}
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return nil, err
		}
	}
	if r.wait != nil {
		return func() error {
			if err := r.wait(m); err != nil {
				return err
			}
			r.keep(m)
			return nil
		}, nil
	}
	r.keep(m)
	return nil, nil
}

func (r *recorder) keep(m Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

func (r *recorder) ClientConnected(id, _, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, id)
}

func (r *recorder) ClientDisconnected(id string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discon[id] = err
}

func (r *recorder) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

func (r *recorder) disconnected(id string) (error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, ok := r.discon[id]
	return err, ok
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig is DefaultConfig on a free loopback port with short timeouts.
func testConfig() Config {
	c := DefaultConfig()
	c.Listeners[0].Addr = "127.0.0.1:0"
	c.Limits.ConnectTimeout = time.Second
	return c
}

// startBroker starts a broker and returns it with its TCP address.
func startBroker(t testing.TB, cfg Config, h Handler) (*Broker, string) {
	t.Helper()
	b, err := New(cfg, h, quietLog())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, b.Addrs()["tcp"]
}

// pahoOpts are options of a paho client (MQTT 3.1.1) without retries.
func pahoOpts(addr, id string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(10 * time.Second).SetWriteTimeout(5 * time.Second)
}

// connect connects a paho client and disconnects it at cleanup.
func connect(t testing.TB, opts *paho.ClientOptions) paho.Client {
	t.Helper()
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", opts.ClientID, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// rawConn is a hand-driven MQTT connection for cases paho cannot produce.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawConn) send(pk packets.Packet) {
	r.t.Helper()
	r.write(encode(r.t, pk))
}

// read reads one packet; it fails the test on error.
func (r *rawConn) read(version byte) packets.Packet {
	r.t.Helper()
	pk, err := r.tryRead(version, 3*time.Second)
	if err != nil {
		r.t.Fatalf("read packet: %v", err)
	}
	return pk
}

func (r *rawConn) tryRead(version byte, d time.Duration) (packets.Packet, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	var hdr [1]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		return packets.Packet{}, err
	}
	var pk packets.Packet
	if err := pk.FixedHeader.Decode(hdr[0]); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r.br)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(r.br, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = version
	return pk, decodeBody(&pk, body)
}

// closed reports whether the server closed the connection within d,
// discarding anything it sent before.
func (r *rawConn) closed(d time.Duration) bool {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, r.br)
	var ne net.Error
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

func connectPacket(version byte, id string) packets.Packet {
	name := []byte("MQTT")
	if version == 3 {
		name = []byte("MQIsdp")
	}
	return packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: version,
		Connect: packets.ConnectParams{
			ProtocolName: name, Clean: true, Keepalive: 30, ClientIdentifier: id,
		},
	}
}

func encode(t testing.TB, pk packets.Packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Pubrel:
		err = pk.PubrelEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	default:
		t.Fatalf("encode: unsupported type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return buf.Bytes()
}

// decodeBody decodes a packet body by type, as mochi's Client.ReadPacket.
func decodeBody(pk *packets.Packet, b []byte) error {
	switch pk.FixedHeader.Type {
	case packets.Connect:
		return pk.ConnectDecode(b)
	case packets.Connack:
		return pk.ConnackDecode(b)
	case packets.Publish:
		return pk.PublishDecode(b)
	case packets.Puback:
		return pk.PubackDecode(b)
	case packets.Pubrec:
		return pk.PubrecDecode(b)
	case packets.Pubrel:
		return pk.PubrelDecode(b)
	case packets.Pubcomp:
		return pk.PubcompDecode(b)
	case packets.Subscribe:
		return pk.SubscribeDecode(b)
	case packets.Suback:
		return pk.SubackDecode(b)
	case packets.Unsubscribe:
		return pk.UnsubscribeDecode(b)
	case packets.Unsuback:
		return pk.UnsubackDecode(b)
	case packets.Disconnect:
		return pk.DisconnectDecode(b)
	case packets.Auth:
		return pk.AuthDecode(b)
	}
	return nil
}

// rawConnect opens a raw connection and completes CONNECT/CONNACK.
func rawConnect(t testing.TB, addr string, version byte, id string) *rawConn {
	t.Helper()
	r := dialRaw(t, addr)
	r.send(connectPacket(version, id))
	ack := r.read(version)
	if ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		t.Fatalf("connack: type %d code %#x", ack.FixedHeader.Type, ack.ReasonCode)
	}
	return r
}
