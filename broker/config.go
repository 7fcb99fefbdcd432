package broker

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/edgevault/edgevault/kv"
)

// Config configures the broker. The zero value of every field means "use the
// default"; DefaultConfig returns the filled-in form. It decodes from YAML
// (snake_case keys, strict decoding is the caller's choice) and JSON.
type Config struct {
	// Listeners are the network endpoints. Default: one plain TCP listener
	// "tcp" on 127.0.0.1:1883.
	Listeners []Listener `yaml:"listeners" json:"listeners"`
	// AllowAnonymous lets clients without a username connect on any
	// listener. When false (the default), anonymous clients are accepted only
	// while no users are configured, and only on loopback listeners
	// (127.0.0.0/8, ::1, localhost), like Mosquitto 2's local-only mode.
	AllowAnonymous bool `yaml:"allow_anonymous" json:"allow_anonymous"`
	// Users are the known accounts. With no users, every client is anonymous.
	Users []User `yaml:"users" json:"users"`
	// ACL rules apply to every client, anonymous ones included (Mosquitto's
	// "pattern" lines). With no rule anywhere, every client may read and
	// write everything; see doc.go for the evaluation rule.
	ACL []ACLRule `yaml:"acl" json:"acl"`
	// Limits bound what one client and all clients together may cost.
	Limits Limits `yaml:"limits" json:"limits"`

	// Now stamps Message.Received and dates sessions (default time.Now).
	// Tests inject a clock.
	Now func() time.Time `yaml:"-" json:"-"`
	// Store, when set, keeps persistent sessions (their subscriptions and
	// inflight QoS 1/2 messages) and retained messages across restarts of
	// the node (see doc.go). nil keeps them in memory only.
	Store kv.Store `yaml:"-" json:"-"`
	// Registerer, when set, gets the broker's metrics (edgevault_mqtt_*).
	Registerer prometheus.Registerer `yaml:"-" json:"-"`
}

// Listener is one network endpoint.
type Listener struct {
	// ID names the listener in logs and in Broker.Addrs (default "tcp",
	// "ws", then "tcp2", "ws2", ...).
	ID string `yaml:"id" json:"id"`
	// Type is "tcp" (default) or "ws" (MQTT over WebSocket, any path).
	Type string `yaml:"type" json:"type"`
	// Addr is host:port to bind; port 0 picks a free port (tcp only).
	Addr string `yaml:"addr" json:"addr"`
	// TLS, when set, serves TLS on this listener.
	TLS *TLS `yaml:"tls" json:"tls"`
}

// TLS configures a TLS listener.
type TLS struct {
	CertFile string `yaml:"cert_file" json:"cert_file"` // PEM certificate chain (required)
	KeyFile  string `yaml:"key_file" json:"key_file"`   // PEM private key (required)
	// ClientCAFile, when set, requires every client to present a certificate
	// signed by one of these CAs (mutual TLS).
	ClientCAFile string `yaml:"client_ca_file" json:"client_ca_file"`
}

// User is one account. PasswordHash is a bcrypt hash, as printed by
// `edgevault passwd` (HashPassword); plain passwords are never stored.
type User struct {
	Username     string    `yaml:"username" json:"username"`
	PasswordHash string    `yaml:"password_hash" json:"password_hash"`
	ACL          []ACLRule `yaml:"acl" json:"acl"` // rules for this user only
}

// ACLRule grants access to topics matching Topic, an MQTT filter in which
// %c is replaced by the client id and %u by the username.
type ACLRule struct {
	Topic  string `yaml:"topic" json:"topic"`
	Access string `yaml:"access" json:"access"` // read, write or readwrite (default)
}

// Limits bound resource use. Zero means the default given on each field.
type Limits struct {
	// MaxPacketSize bounds one MQTT packet, CONNECT included, checked on the
	// fixed header before any byte of the body is buffered (default 256 KiB).
	MaxPacketSize int `yaml:"max_packet_size" json:"max_packet_size"`
	// MaxClients bounds connected clients; CONNECT beyond it is refused with
	// server unavailable (3.1.1) / server busy (5) (default 10000).
	MaxClients int `yaml:"max_clients" json:"max_clients"`
	// MaxPendingConnections bounds connections accepted but not yet
	// authenticated; one more is closed at once (default 256).
	MaxPendingConnections int `yaml:"max_pending_connections" json:"max_pending_connections"`
	// ConnectTimeout is how long a new connection may take to send its
	// CONNECT (TLS handshake included) (default 10s).
	ConnectTimeout time.Duration `yaml:"connect_timeout" json:"connect_timeout"`
	// ReceiveMaximum bounds unacknowledged QoS 1/2 publishes from one client
	// (default 256).
	ReceiveMaximum int `yaml:"receive_maximum" json:"receive_maximum"`
	// MaxInflight bounds QoS 1/2 messages held for one client awaiting its
	// acknowledgement (default 1024).
	MaxInflight int `yaml:"max_inflight" json:"max_inflight"`
	// MaxPendingWrites bounds packets queued for one client's socket; a
	// subscriber slower than that loses messages, counted and logged by
	// mochi (default 1024).
	MaxPendingWrites int `yaml:"max_pending_writes" json:"max_pending_writes"`
	// MaxKeepalive caps the keepalive a client may ask for; 0 (no keepalive)
	// or more is replaced by it (announced to MQTT 5 clients) (default 15m).
	MaxKeepalive time.Duration `yaml:"max_keepalive" json:"max_keepalive"`
	// MaxTopicLength bounds a topic name or filter in bytes; longer closes
	// the connection (default 1024).
	MaxTopicLength int `yaml:"max_topic_length" json:"max_topic_length"`
	// SessionExpiry is how long a disconnected persistent session (clean
	// session false / MQTT 5 expiry) is kept, at most (default 24h).
	SessionExpiry time.Duration `yaml:"session_expiry" json:"session_expiry"`
}

// Defaults of Limits.
const (
	DefaultMaxPacketSize         = 256 << 10
	DefaultMaxClients            = 10000
	DefaultMaxPendingConnections = 256
	DefaultConnectTimeout        = 10 * time.Second
	DefaultReceiveMaximum        = 256
	DefaultMaxInflight           = 1024
	DefaultMaxPendingWrites      = 1024
	DefaultMaxKeepalive          = 15 * time.Minute
	DefaultMaxTopicLength        = 1024
	DefaultSessionExpiry         = 24 * time.Hour
	// DefaultAddr is where the default listener binds.
	DefaultAddr = "127.0.0.1:1883"
)

// bcryptCost is the work factor of HashPassword.
const bcryptCost = 10

// DefaultConfig returns the configuration that runs as it is: one loopback
// TCP listener, anonymous access (loopback only), default limits.
func DefaultConfig() Config {
	c := Config{Listeners: []Listener{{ID: "tcp", Type: "tcp", Addr: DefaultAddr}}}
	c.Limits.applyDefaults()
	return c
}

// SetTCPAddr points the first TCP listener at addr, adding one if there is
// none. It serves command-line overrides such as --mqtt 127.0.0.1:0.
func (c *Config) SetTCPAddr(addr string) {
	for i := range c.Listeners {
		if c.Listeners[i].Type == "" || c.Listeners[i].Type == "tcp" {
			c.Listeners[i].Addr = addr
			return
		}
	}
	c.Listeners = append(c.Listeners, Listener{Type: "tcp", Addr: addr})
}

// HashPassword returns the bcrypt hash of password, the form
// users[].password_hash takes (`edgevault passwd` prints it).
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

func (l *Limits) applyDefaults() {
	setInt(&l.MaxPacketSize, DefaultMaxPacketSize)
	setInt(&l.MaxClients, DefaultMaxClients)
	setInt(&l.MaxPendingConnections, DefaultMaxPendingConnections)
	setInt(&l.ReceiveMaximum, DefaultReceiveMaximum)
	setInt(&l.MaxInflight, DefaultMaxInflight)
	setInt(&l.MaxPendingWrites, DefaultMaxPendingWrites)
	setInt(&l.MaxTopicLength, DefaultMaxTopicLength)
	setDur(&l.ConnectTimeout, DefaultConnectTimeout)
	setDur(&l.MaxKeepalive, DefaultMaxKeepalive)
	setDur(&l.SessionExpiry, DefaultSessionExpiry)
}

func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

func setDur(v *time.Duration, def time.Duration) {
	if *v == 0 {
		*v = def
	}
}

// withDefaults returns a copy of c with every zero value replaced by its
// default and listener ids and types filled in.
func (c Config) withDefaults() Config {
	if len(c.Listeners) == 0 {
		c.Listeners = []Listener{{Addr: DefaultAddr}}
	}
	ls := make([]Listener, len(c.Listeners))
	count := map[string]int{}
	for i, l := range c.Listeners {
		if l.Type == "" {
			l.Type = "tcp"
		}
		count[l.Type]++
		if l.ID == "" {
			l.ID = l.Type
			if n := count[l.Type]; n > 1 {
				l.ID = fmt.Sprintf("%s%d", l.Type, n)
			}
		}
		ls[i] = l
	}
	c.Listeners = ls
	c.Limits.applyDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every invalid key as "key: reason" (joined), after
// defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	ids := map[string]bool{}
	for i, l := range c.Listeners {
		validateListener(fmt.Sprintf("listeners[%d]", i), l, ids, bad)
	}
	names := map[string]bool{}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Username == "":
			bad(key+".username", "must not be empty")
		case names[u.Username]:
			bad(key+".username", "duplicate %q", u.Username)
		}
		names[u.Username] = true
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			bad(key+".password_hash", "not a bcrypt hash (make one with `edgevault passwd`)")
		}
		validateACL(key+".acl", u.ACL, bad)
	}
	validateACL("acl", c.ACL, bad)
	validateLimits(c.Limits, bad)
	return errors.Join(errs...)
}

func validateListener(key string, l Listener, ids map[string]bool, bad func(string, string, ...any)) {
	if ids[l.ID] {
		bad(key+".id", "duplicate %q", l.ID)
	}
	ids[l.ID] = true
	if l.Type != "tcp" && l.Type != "ws" {
		bad(key+".type", "must be tcp or ws, got %q", l.Type)
	}
	if _, _, err := net.SplitHostPort(l.Addr); err != nil {
		bad(key+".addr", "must be host:port, got %q", l.Addr)
	}
	if l.TLS != nil && (l.TLS.CertFile == "" || l.TLS.KeyFile == "") {
		bad(key+".tls", "cert_file and key_file are required")
	}
}

func validateACL(key string, rules []ACLRule, bad func(string, string, ...any)) {
	for i, r := range rules {
		k := fmt.Sprintf("%s[%d]", key, i)
		if !validFilter(r.Topic) {
			bad(k+".topic", "not a valid MQTT topic filter: %q", r.Topic)
		}
		if _, ok := parseAccess(r.Access); !ok {
			bad(k+".access", "must be read, write or readwrite, got %q", r.Access)
		}
	}
}

func validateLimits(l Limits, bad func(string, string, ...any)) {
	pos := []struct {
		key string
		v   int64
	}{
		{"max_packet_size", int64(l.MaxPacketSize)},
		{"max_clients", int64(l.MaxClients)},
		{"max_pending_connections", int64(l.MaxPendingConnections)},
		{"receive_maximum", int64(l.ReceiveMaximum)},
		{"max_inflight", int64(l.MaxInflight)},
		{"max_pending_writes", int64(l.MaxPendingWrites)},
		{"max_topic_length", int64(l.MaxTopicLength)},
		{"connect_timeout", int64(l.ConnectTimeout)},
		{"max_keepalive", int64(l.MaxKeepalive)},
		{"session_expiry", int64(l.SessionExpiry)},
	}
	for _, p := range pos {
		if p.v < 0 {
			bad("limits."+p.key, "must not be negative")
		}
	}
	if l.MaxPacketSize > 268435455 {
		bad("limits.max_packet_size", "must be at most 268435455 (the MQTT maximum)")
	}
	if l.ReceiveMaximum > 65535 {
		bad("limits.receive_maximum", "must be at most 65535")
	}
	if l.MaxInflight > 65535 {
		bad("limits.max_inflight", "must be at most 65535")
	}
	if l.MaxKeepalive > 65535*time.Second {
		bad("limits.max_keepalive", "must be at most 65535s")
	}
	if l.MaxKeepalive > 0 && l.MaxKeepalive < time.Second {
		bad("limits.max_keepalive", "must be at least 1s")
	}
}

// parseAccess maps an ACL access string to the rights it grants.
func parseAccess(s string) (access, bool) {
	switch strings.ToLower(s) {
	case "read":
		return accessRead, true
	case "write":
		return accessWrite, true
	case "", "readwrite":
		return accessRead | accessWrite, true
	}
	return 0, false
}
