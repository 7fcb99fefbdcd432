package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Errors of the broker.
var (
	// ErrOverloaded, wrapped by a Handler's error, says the message was
	// refused for lack of capacity: MQTT 5 clients get reason code 0x97
	// (quota exceeded) instead of 0x80 (unspecified error).
	ErrOverloaded = errors.New("overloaded")
	// ErrNotDurable is the cause reported to ClientDisconnected when an
	// MQTT 3.1.1 connection is closed because its publish was refused.
	ErrNotDurable = errors.New("publish not made durable")
	// ErrTopicTooLong closes a connection whose topic or filter exceeds
	// limits.max_topic_length.
	ErrTopicTooLong = errors.New("topic too long")
	// ErrPanic is the cause reported to ClientDisconnected when the
	// connection's goroutine panicked (a decoder bug) and was recovered.
	ErrPanic = errors.New("connection panicked")
	// ErrClosed is returned by methods of a closed broker.
	ErrClosed = errors.New("broker closed")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("broker already started")
)

// Message is one PUBLISH received from a client. Payload is shared with the
// subscribers the message is routed to: read it, keep it, never modify it.
type Message struct {
	ClientID, Username, Topic string
	Payload                   []byte
	QoS                       byte
	Retain                    bool
	Received                  time.Time
}

// Handler receives the broker's events. Its methods are called on the
// connection's goroutine, so one client's publishes arrive in order and
// HandlePublish may block (back-pressure reaches the client through TCP).
type Handler interface {
	// HandlePublish is called for every PUBLISH from a client, before the
	// broker acknowledges or routes it. An error refuses the message now: it
	// is neither acknowledged nor routed (see doc.go). Otherwise the message
	// is accepted, and durable once wait returns nil (a nil wait: already);
	// the broker calls wait exactly once, on the connection's goroutine, and
	// acknowledges the message only after it returns nil (see later.go).
	HandlePublish(m Message) (wait func() error, err error)
	// ClientConnected is called once a client is authenticated and its
	// CONNACK is on its way.
	ClientConnected(clientID, username, remoteAddr string)
	// ClientDisconnected is called when a connection ends; err is nil after a
	// clean DISCONNECT.
	ClientDisconnected(clientID string, err error)
}

// Broker is the embedded MQTT broker.
type Broker struct {
	cfg      Config
	handler  Handler
	log      *slog.Logger
	auth     *auth
	srv      *mqtt.Server
	guard    *guard
	sessions *sessionStore   // nil without Config.Store
	rejected atomic.Int64    // publishes the Handler refused
	denied   [2]atomic.Int64 // ACL denials: [0] read, [1] write

	mu      sync.Mutex // guards the following
	started bool
	closed  bool
	addrs   map[string]string // listener id -> bound address
}

// New validates cfg and returns a broker ready to Start.
func New(cfg Config, h Handler, log *slog.Logger) (*Broker, error) {
	if h == nil {
		return nil, errors.New("new broker: nil handler")
	}
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	cfg = cfg.withDefaults()
	b := &Broker{cfg: cfg, handler: h, log: log, auth: newAuth(cfg), addrs: map[string]string{}}
	b.guard = newGuard(cfg.Limits, log)
	b.guard.abandon = b.abandon
	b.guard.notDurable = b.notDurable
	b.guard.stop = b.stopNotDurable
	b.srv = mqtt.New(&mqtt.Options{
		Capabilities:           capabilities(cfg.Limits),
		Logger:                 log.With("component", "mochi"),
		InlineClient:           true,
		SysTopicResendInterval: 10,
	})
	if err := b.srv.AddHook(&hook{b: b}, nil); err != nil {
		return nil, fmt.Errorf("add hook: %w", err)
	}
	if cfg.Store != nil {
		b.sessions = newSessionStore(cfg.Store, b.srv, cfg, log)
		if err := b.srv.AddHook(b.sessions, nil); err != nil {
			return nil, fmt.Errorf("add session store: %w", err)
		}
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(collector{b}); err != nil {
			return nil, fmt.Errorf("register mqtt metrics: %w", err)
		}
	}
	return b, nil
}

func capabilities(l Limits) *mqtt.Capabilities {
	c := mqtt.NewDefaultServerCapabilities()
	c.MaximumPacketSize = uint32(l.MaxPacketSize)
	c.MaximumClients = int64(l.MaxClients)
	c.ReceiveMaximum = uint16(l.ReceiveMaximum)
	c.MaximumInflight = uint16(l.MaxInflight)
	c.MaximumClientWritesPending = int32(min(l.MaxPendingWrites, math.MaxInt32))
	c.MaximumSessionExpiryInterval = uint32(min(l.SessionExpiry/time.Second, math.MaxUint32))
	c.TopicAliasMaximum = 64
	return c
}

// Start binds every listener and starts serving. On error nothing is left
// listening.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.started:
		return ErrStarted
	}
	for _, lc := range b.cfg.Listeners {
		l, err := b.newListener(lc)
		if err == nil {
			err = b.srv.AddListener(l)
		}
		if err != nil {
			b.srv.Listeners.CloseAll(func(string) {})
			return fmt.Errorf("listener %s (%s): %w", lc.ID, lc.Addr, err)
		}
		b.addrs[lc.ID] = l.Address()
		if !isLoopback(l.Address()) && len(b.cfg.Users) == 0 && !b.cfg.AllowAnonymous {
			b.log.Warn("mqtt listener is not on loopback and no users are configured: anonymous clients will be refused",
				"listener", lc.ID, "addr", l.Address())
		}
	}
	if err := b.srv.Serve(); err != nil { // loads the stored sessions first
		b.srv.Listeners.CloseAll(func(string) {})
		return fmt.Errorf("serve mqtt: %w", err)
	}
	b.started = true
	b.log.Info("mqtt broker started", "listeners", b.addrs)
	return nil
}

func (b *Broker) newListener(lc Listener) (listeners.Listener, error) {
	lcfg := listeners.Config{ID: lc.ID, Address: lc.Addr}
	if lc.TLS != nil {
		tc, err := tlsConfig(*lc.TLS)
		if err != nil {
			return nil, err
		}
		lcfg.TLSConfig = tc
	}
	var inner listeners.Listener = listeners.NewTCP(lcfg)
	if lc.Type == "ws" {
		// mochi's WebSocket listener binds only in Serve, where a failure is
		// merely logged: probe the address now so Start reports it, and
		// resolve port 0 to a real port (free again by the time Serve binds
		// it, unless another process is quicker).
		probe, err := net.Listen("tcp", lc.Addr)
		if err != nil {
			return nil, fmt.Errorf("bind: %w", err)
		}
		lcfg.Address = probe.Addr().String()
		if err := probe.Close(); err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
		inner = listeners.NewWebsocket(lcfg)
	}
	return &guardedListener{Listener: inner, g: b.guard}, nil
}

func tlsConfig(t TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls key pair: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read client ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client ca %s: no PEM certificate", t.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Addrs maps each listener id to its bound address (the real port when the
// configured one is 0).
func (b *Broker) Addrs() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]string, len(b.addrs))
	for k, v := range b.addrs {
		out[k] = v
	}
	return out
}

func (b *Broker) listenerAddr(id string) string {
	for _, l := range b.cfg.Listeners {
		if l.ID == id {
			return l.Addr
		}
	}
	return ""
}

// Publish routes a message from the node itself (alerts, commands) to the
// subscribers, bypassing ACLs and the Handler. qos caps the delivery QoS.
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	b.mu.Lock()
	ok := b.started && !b.closed
	b.mu.Unlock()
	if !ok {
		return ErrClosed
	}
	if qos > 2 || !validFilter(topic) || containsWildcard(topic) {
		return fmt.Errorf("publish %q qos %d: invalid topic or qos", topic, qos)
	}
	if err := b.srv.Publish(topic, payload, retain, qos); err != nil {
		return fmt.Errorf("publish %q: %w", topic, err)
	}
	return nil
}

func containsWildcard(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] == '+' || t[i] == '#' {
			return true
		}
	}
	return false
}

// Clients is the number of connected, authenticated clients.
func (b *Broker) Clients() int {
	return int(atomic.LoadInt64(&b.srv.Info.ClientsConnected))
}

// Rejected is the number of publishes the Handler refused.
func (b *Broker) Rejected() int64 { return b.rejected.Load() }

// Panics is the number of connections closed after a recovered panic.
func (b *Broker) Panics() int64 { return b.guard.panics.Load() }

// Stats are the broker's counters, for metrics. Counts are since New.
type Stats struct {
	Clients            int64 // connected, authenticated clients
	PendingConnections int64 // connections not yet authenticated
	RefusedConnections int64 // closed at once: max_pending_connections reached
	RefusedMaxClients  int64 // CONNECT refused: max_clients reached
	RefusedAuth        int64 // CONNECT refused: bad username or password, anonymous refused
	RefusedInvalid     int64 // CONNECT refused by protocol checks (client id, version...)
	NoConnect          int64 // closed before a valid CONNECT: timeout, garbage, too large
	PacketsTooLarge    int64 // packets over max_packet_size, CONNECT included
	Rejected           int64 // publishes the Handler refused
	Panics             int64 // connections closed after a recovered panic
	ACLDeniedRead      int64 // subscriptions and deliveries the ACL refused
	ACLDeniedWrite     int64 // publishes the ACL refused
	Retained           int64 // retained messages held
	Inflight           int64 // QoS 1/2 messages awaiting a client's ack
	Subscriptions      int64
	MessagesReceived   int64
	MessagesSent       int64
	MessagesDropped    int64 // not delivered: a subscriber's max_pending_writes was full
	InflightDropped    int64 // not delivered: a subscriber's max_inflight was full
	BytesReceived      int64
	BytesSent          int64
	SessionsRestored   int64 // persistent sessions loaded from Config.Store at Start
	StoreErrors        int64 // session store writes that failed (state kept in memory)
}

// Stats returns a snapshot of the counters.
func (b *Broker) Stats() Stats {
	in, g := b.srv.Info, b.guard
	st := Stats{
		Clients:            atomic.LoadInt64(&in.ClientsConnected),
		PendingConnections: g.pending.Load(),
		RefusedConnections: g.refused.Load(),
		RefusedMaxClients:  g.refusedMaxClients.Load(),
		RefusedAuth:        g.refusedAuth.Load(),
		RefusedInvalid:     g.refusedInvalid.Load(),
		NoConnect:          g.noConnect.Load(),
		PacketsTooLarge:    g.tooLarge.Load(),
		Rejected:           b.rejected.Load(),
		Panics:             g.panics.Load(),
		ACLDeniedRead:      b.denied[0].Load(),
		ACLDeniedWrite:     b.denied[1].Load(),
		Retained:           atomic.LoadInt64(&in.Retained),
		Inflight:           b.inflight(),
		Subscriptions:      atomic.LoadInt64(&in.Subscriptions),
		MessagesReceived:   atomic.LoadInt64(&in.MessagesReceived),
		MessagesSent:       atomic.LoadInt64(&in.MessagesSent),
		MessagesDropped:    atomic.LoadInt64(&in.MessagesDropped),
		InflightDropped:    atomic.LoadInt64(&in.InflightDropped),
		BytesReceived:      atomic.LoadInt64(&in.BytesReceived),
		BytesSent:          atomic.LoadInt64(&in.BytesSent),
	}
	if s := b.sessions; s != nil {
		st.SessionsRestored = s.restoredCount.Load()
		st.StoreErrors = s.errs.Load()
	}
	return st
}

// inflight counts the QoS 1/2 messages held for clients. mochi's own
// counter (Info.Inflight) is decremented twice when a persistent session is
// taken over with messages pending, so it is not used.
func (b *Broker) inflight() int64 {
	var n int64
	for _, cl := range b.srv.Clients.GetAll() {
		n += int64(cl.State.Inflight.Len())
	}
	return n
}

// Close stops the listeners and disconnects every client. It waits for the
// connection goroutines to return, so for HandlePublish calls in progress.
// It does not hold the broker's lock meanwhile: a Handler may still call
// Publish (which then returns ErrClosed).
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	started := b.started
	b.mu.Unlock()
	if !started {
		return nil
	}
	if err := b.srv.Close(); err != nil {
		return fmt.Errorf("close mqtt: %w", err)
	}
	b.guard.closeAll()
	return nil
}
