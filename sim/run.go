package sim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Sentinel errors.
var (
	ErrFormat  = errors.New("unknown format")
	ErrOptions = errors.New("invalid options")
)

// Options configure a run. Zero values take the defaults noted.
type Options struct {
	Broker   string        // host:port of the MQTT broker; required
	Devices  int           // number of simulated devices; 0 means 1
	Rate     float64       // messages per second per device; 0 means as fast as Inflight allows
	Duration time.Duration // how long to publish; 0 means until ctx ends or Count is reached
	Count    int           // messages per device; 0 means no limit
	Format   Format        // payload format; "" means json
	QoS      byte          // 0, 1 or 2
	Username string
	Password string
	Inflight int    // outstanding publishes per client; 0 means 16
	Prefix   string // device id prefix; "" means "sim"
	// Topic overrides the format's topic; "{device}" in it is replaced by
	// the device id. "" means Format.Topic.
	Topic string
	Seed  uint64 // seeds the random walks

	// Start, when non-zero, makes timestamps deterministic: device i's k-th
	// message carries Start + k*Interval (Unix ms). Interval 0 means 1000.
	Start    int64
	Interval int64

	AckTimeout     time.Duration // per publish; 0 means 10s
	ConnectTimeout time.Duration // 0 means 10s
	// ConnectConcurrency bounds the connects in flight at once, as a fleet
	// that does not connect in the same instant; 0 means all at once.
	ConnectConcurrency int

	// Record, when set, receives "<device> <ts-ms> ack|fail\n" per publish.
	Record io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() (Options, error) {
	if o.Devices == 0 {
		o.Devices = 1
	}
	if o.Format == "" {
		o.Format = FormatJSON
	}
	if o.Inflight == 0 {
		o.Inflight = 16
	}
	if o.Prefix == "" {
		o.Prefix = "sim"
	}
	if o.Interval == 0 {
		o.Interval = 1000
	}
	if o.AckTimeout == 0 {
		o.AckTimeout = 10 * time.Second
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.Broker == "":
		return o, fmt.Errorf("%w: broker is required", ErrOptions)
	case !o.Format.Valid():
		return o, fmt.Errorf("%w: %q", ErrFormat, string(o.Format))
	case o.QoS > 2:
		return o, fmt.Errorf("%w: qos %d", ErrOptions, o.QoS)
	case o.Devices < 0 || o.Inflight < 0 || o.Count < 0 || o.Rate < 0:
		return o, fmt.Errorf("%w: negative devices, inflight, count or rate", ErrOptions)
	case o.Duration == 0 && o.Count == 0:
		return o, fmt.Errorf("%w: need a duration or a count", ErrOptions)
	}
	return o, nil
}

// TopicFor is the topic device id publishes on.
func (o Options) TopicFor(id string) string {
	if o.Topic == "" {
		return o.Format.Topic(id)
	}
	return strings.ReplaceAll(o.Topic, "{device}", id)
}

// DeviceID is the id (and MQTT client id) of device i.
func (o Options) DeviceID(i int) string { return fmt.Sprintf("%s-%04d", o.Prefix, i) }

// Run connects Devices clients to the broker, publishes until Duration
// passes, Count is reached or ctx ends, waits for outstanding acks and
// reports. It fails only when a client cannot connect.
func Run(ctx context.Context, opts Options) (Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Report{}, err
	}
	clients, err := connectAll(opts)
	if err != nil {
		return Report{}, err
	}
	defer func() {
		for _, c := range clients {
			c.Disconnect(250)
		}
	}()
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	rec := newRecorder(opts.Record)
	stats := make([]*deviceStats, opts.Devices)
	start := opts.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		stats[i] = &deviceStats{}
		d := &device{opts: opts, index: i, id: opts.DeviceID(i), client: c, stats: stats[i], rec: rec}
		wg.Go(func() { d.run(ctx) })
	}
	wg.Wait()
	elapsed := opts.Now().Sub(start)
	if err := rec.flush(); err != nil {
		return summarize(opts, elapsed, stats), fmt.Errorf("write record: %w", err)
	}
	return summarize(opts, elapsed, stats), nil
}

// connectAll connects every device's client in parallel.
func connectAll(opts Options) ([]mqtt.Client, error) {
	clients := make([]mqtt.Client, opts.Devices)
	errs := make([]error, opts.Devices)
	n := opts.ConnectConcurrency
	if n <= 0 {
		n = opts.Devices
	}
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			clients[i], errs[i] = connect(opts, opts.DeviceID(i))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range clients {
			if c != nil {
				c.Disconnect(0)
			}
		}
		return nil, err
	}
	return clients, nil
}

func connect(opts Options, id string) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker("tcp://" + opts.Broker).SetClientID(id).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectRetry(false).SetConnectTimeout(opts.ConnectTimeout).
		SetWriteTimeout(opts.AckTimeout).SetOrderMatters(false).SetKeepAlive(30 * time.Second).
		SetCustomOpenConnectionFn(dialBuffered)
	if opts.Username != "" {
		o.SetUsername(opts.Username).SetPassword(opts.Password)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(opts.ConnectTimeout) {
		c.Disconnect(0)
		return nil, fmt.Errorf("connect %s: timeout after %v", id, opts.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect %s: %w", id, err)
	}
	return c, nil
}

// dialBuffered opens the client's TCP connection with reads through a
// buffer. paho reads each packet's fixed header a byte at a time (type,
// then the remaining length byte by byte, then the body): three read(2)
// calls per PUBACK, which made reading acks a quarter of a saturating
// load's CPU, taken from the broker under test on a small machine. Only
// paho's one reader uses Read.
func dialBuffered(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	if uri.Scheme != "tcp" && uri.Scheme != "mqtt" {
		return nil, fmt.Errorf("%w: scheme %q (the sim dials tcp only)", ErrOptions, uri.Scheme)
	}
	c, err := (&net.Dialer{Timeout: o.ConnectTimeout}).Dial("tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 4096)}, nil
}

// bufferedConn is a net.Conn whose reads go through r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// recorder serialises Record lines from all devices.
type recorder struct {
	mu sync.Mutex // guards w
	w  *bufio.Writer
}

func newRecorder(w io.Writer) *recorder {
	if w == nil {
		return nil
	}
	return &recorder{w: bufio.NewWriter(w)}
}

func (r *recorder) write(id string, ts int64, ok bool) {
	if r == nil {
		return
	}
	res := " fail\n"
	if ok {
		res = " ack\n"
	}
	r.mu.Lock()
	r.w.WriteString(id)
	r.w.WriteByte(' ')
	r.w.WriteString(strconv.FormatInt(ts, 10))
	r.w.WriteString(res)
	r.mu.Unlock()
}

func (r *recorder) flush() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w.Flush()
}
