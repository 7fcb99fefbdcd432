package sim

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/edgevault/edgevault/gateway"
)

// ContractSimEnv is the parsing contract of the simulated sensors' frames
// (examples/edge.yaml): the 8-byte layout of FormatBinary.
const ContractSimEnv = "sim-env"

// PointsPerFrame is the number of readings the sim-env contract decodes
// from one frame.
const PointsPerFrame = 5

// GatewayOptions configure RunGateways. Zero values take the defaults noted.
type GatewayOptions struct {
	Broker   string        // host:port of the MQTT broker; required
	Gateways int           // number of gateways; 0 means 1
	Sensors  int           // sensors per gateway; 0 means 1, at most gateway.MaxItems
	Interval time.Duration // between two reports of a gateway; 0 means 1s
	Duration time.Duration // how long to report; 0 means until ctx ends or Count
	Count    int           // reports per gateway; 0 means no limit
	Binary   bool          // compact binary envelopes instead of JSON
	Prefix   string        // gateway id prefix; "" means "gw" (ids gw-0000, gw-0001, ...)
	Topics   gateway.Topics
	Password string // MQTT password; the username is the gateway id
	Seed     uint64 // seeds the sensors' random walks and the flaky link

	// Start, when non-zero, makes timestamps deterministic: the k-th report
	// (k from 0) of every gateway and all its frames carry Start + k*Step
	// (Unix ms), whatever the wall clock. Step 0 means Interval in ms.
	Start int64
	Step  int64

	// AckTimeout is how long a report waits for the platform's ack before
	// its first resend with the same message id; 0 means 5s. Each further
	// resend waits twice as long as the one before, up to MaxBackoff, and
	// every wait is shortened by a random part of up to Jitter, so the
	// resends of reports sent together spread out instead of arriving at a
	// slow platform in a burst.
	AckTimeout time.Duration
	// MaxBackoff caps the wait between two sends of a report; 0 means
	// 8 x AckTimeout.
	MaxBackoff time.Duration
	// Jitter is the fraction of each resend wait drawn at random (the wait
	// is d x (1 - Jitter x u), u uniform in [0,1)); 0 means 0.2, negative
	// none.
	Jitter float64
	// MaxInFlight bounds the reports sent and not yet acknowledged on the
	// current connection; later reports wait in the buffer, unsent, until
	// acks free a slot. 0 means 8, negative no limit. With the backoff it
	// keeps a gateway's load on a platform that falls behind bounded, so a
	// slow platform is not driven into collapse by resends.
	MaxInFlight int
	// Buffer bounds the unacknowledged reports a gateway keeps; when it is
	// full the oldest is dropped (counted as overflow). 0 means 1000.
	Buffer int
	// Drain is how long a gateway keeps waiting for acks (and resending)
	// after its last report; 0 means 3s.
	Drain time.Duration
	// ReconnectDelay is the wait before reconnecting after a lost
	// connection; 0 means 1s.
	ReconnectDelay time.Duration
	ConnectTimeout time.Duration // 0 means 10s
	// ConnectConcurrency bounds the connects in flight at once; 0 means all.
	ConnectConcurrency int

	Flaky    Flaky // a lossy link; the zero value is a perfect one
	NeverAck bool  // ignore commands entirely: no ack, no result

	Logger *slog.Logger     // nil means slog.Default()
	Now    func() time.Time // nil means time.Now
}

// Flaky describes a lossy link between a gateway and the broker.
type Flaky struct {
	Drop       float64       // fraction of outgoing envelopes silently lost
	Delay      float64       // fraction of outgoing envelopes delayed
	MaxDelay   time.Duration // longest delay (uniform); 0 means 500ms
	Disconnect float64       // chance per report tick to drop the connection
	Down       time.Duration // how long a flaky disconnect lasts; 0 means 2s
}

// DefaultFlaky is the link --flaky selects.
var DefaultFlaky = Flaky{Drop: 0.05, Delay: 0.1, MaxDelay: 500 * time.Millisecond, Disconnect: 0.01, Down: 2 * time.Second}

func (o GatewayOptions) withDefaults() (GatewayOptions, error) {
	o.Gateways = max(o.Gateways, 1)
	o.Sensors = max(o.Sensors, 1)
	o.Interval = cmp0(o.Interval, time.Second)
	o.Prefix = cmp0(o.Prefix, "gw")
	o.Step = cmp0(o.Step, o.Interval.Milliseconds())
	o.AckTimeout = cmp0(o.AckTimeout, 5*time.Second)
	o.MaxBackoff = max(cmp0(o.MaxBackoff, 8*o.AckTimeout), o.AckTimeout)
	o.Jitter = cmp0(o.Jitter, 0.2)
	o.MaxInFlight = cmp0(o.MaxInFlight, 8)
	o.Buffer = cmp0(o.Buffer, 1000)
	o.Drain = cmp0(o.Drain, 3*time.Second)
	o.ReconnectDelay = cmp0(o.ReconnectDelay, time.Second)
	o.ConnectTimeout = cmp0(o.ConnectTimeout, 10*time.Second)
	o.Flaky.MaxDelay = cmp0(o.Flaky.MaxDelay, 500*time.Millisecond)
	o.Flaky.Down = cmp0(o.Flaky.Down, 2*time.Second)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f := o.Flaky
	switch {
	case o.Broker == "":
		return o, fmt.Errorf("%w: broker is required", ErrOptions)
	case o.Sensors > gateway.MaxItems:
		return o, fmt.Errorf("%w: %d sensors (limit %d per gateway)", ErrOptions, o.Sensors, gateway.MaxItems)
	case o.Count < 0 || o.Buffer < 0 || o.Interval < 0 || o.Step < 0:
		return o, fmt.Errorf("%w: negative count, buffer, interval or step", ErrOptions)
	case o.Jitter >= 1:
		return o, fmt.Errorf("%w: jitter %v must be below 1", ErrOptions, o.Jitter)
	case !prob(f.Drop) || !prob(f.Delay) || !prob(f.Disconnect):
		return o, fmt.Errorf("%w: flaky fractions must be within 0..1", ErrOptions)
	case !gateway.ValidGatewayID(o.GatewayID(o.Gateways - 1)):
		return o, fmt.Errorf("%w: prefix %q makes invalid gateway ids", ErrOptions, o.Prefix)
	}
	return o, nil
}

func cmp0[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func prob(p float64) bool { return p >= 0 && p <= 1 }

// GatewayID is the id (MQTT client id and username) of gateway i:
// <prefix>-<i>, i zero-padded to 4 digits.
func (o GatewayOptions) GatewayID(i int) string {
	return fmt.Sprintf("%s-%04d", cmp0(o.Prefix, "gw"), i)
}

// SensorID is the id of sensor k (from 0) of gateway gw.
func SensorID(gw string, k int) string { return fmt.Sprintf("%s-s%d", gw, k) }

// GatewayReport summarises a gateway run. Report counts are distinct
// reports (group envelopes) unless named otherwise.
type GatewayReport struct {
	Gateways int     `json:"gateways"`
	Sensors  int     `json:"sensors"` // per gateway
	Binary   bool    `json:"binary"`
	Seconds  float64 `json:"seconds"`

	Envelopes int64 `json:"envelopes"` // every envelope handed to the link, drops included
	Reports   int64 `json:"reports"`   // reports made
	Sent      int64 `json:"sent"`      // reports sent at least once
	Acked     int64 `json:"acked"`     // reports acknowledged by the platform
	Resent    int64 `json:"resent"`    // sends after the first, same message id
	Held      int64 `json:"held"`      // reports that waited for an in-flight slot before their first send
	Buffered  int64 `json:"buffered"`  // reports made while disconnected
	Overflow  int64 `json:"overflow"`  // reports dropped from a full buffer, never acked
	Unacked   int64 `json:"unacked"`   // reports still unacknowledged at the end
	Dropped   int64 `json:"dropped"`   // envelopes lost by the flaky link
	Delayed   int64 `json:"delayed"`   // envelopes delayed by the flaky link

	Disconnects int64 `json:"disconnects"` // lost or flaky-dropped connections
	Reconnects  int64 `json:"reconnects"`

	HeartbeatsIn  int64 `json:"heartbeats_in"`  // platform heartbeats received
	HeartbeatsOut int64 `json:"heartbeats_out"` // heartbeats sent (answers and on connect)

	Commands   int64 `json:"commands"`   // command envelopes received, resends included
	Executed   int64 `json:"executed"`   // distinct command ids executed
	Duplicates int64 `json:"duplicates"` // resends of an executed id (acked again, not executed)

	PointsAcked int64 `json:"points_acked"` // acked reports x sensors x 5
	// First-send-to-ack latency of acked reports, in milliseconds (resends
	// and buffering included).
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// gwStats is what one gateway counted; only its loop touches it.
type gwStats struct {
	envelopes, reports, sent, acked, resent, held, buffered, overflow, unacked int64
	dropped, delayed, disconnects, reconnects, hbIn, hbOut                     int64
	commands, executed, duplicates                                             int64
	lat                                                                        []time.Duration
}

// RunGateways runs Gateways simulated gateways until Duration passes, Count
// reports are made or ctx ends, lets each drain its unacknowledged reports
// for up to Drain, and reports. It fails only when a gateway cannot make
// its first connection.
func RunGateways(ctx context.Context, opts GatewayOptions) (GatewayReport, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return GatewayReport{}, err
	}
	sem := make(chan struct{}, cmp0(opts.ConnectConcurrency, opts.Gateways))
	gws := make([]*simGateway, opts.Gateways)
	errs := make([]error, opts.Gateways)
	var wg sync.WaitGroup
	for i := range gws {
		gws[i] = newSimGateway(opts, i)
		wg.Go(func() {
			sem <- struct{}{}
			errs[i] = gws[i].connect()
			<-sem
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, g := range gws {
				g.close()
			}
			return GatewayReport{}, fmt.Errorf("gateway %s: %w", opts.GatewayID(i), err)
		}
	}
	prod := ctx
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		prod, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	start := opts.Now()
	for _, g := range gws {
		wg.Go(func() { g.run(prod) })
	}
	wg.Wait()
	stats := make([]*gwStats, len(gws))
	for i, g := range gws {
		stats[i] = &g.st
	}
	return summarizeGateways(opts, opts.Now().Sub(start), stats), nil
}

func summarizeGateways(opts GatewayOptions, elapsed time.Duration, gws []*gwStats) GatewayReport {
	r := GatewayReport{Gateways: opts.Gateways, Sensors: opts.Sensors, Binary: opts.Binary, Seconds: elapsed.Seconds()}
	var lat []time.Duration
	for _, s := range gws {
		r.Envelopes += s.envelopes
		r.Reports += s.reports
		r.Sent += s.sent
		r.Acked += s.acked
		r.Resent += s.resent
		r.Held += s.held
		r.Buffered += s.buffered
		r.Overflow += s.overflow
		r.Unacked += s.unacked
		r.Dropped += s.dropped
		r.Delayed += s.delayed
		r.Disconnects += s.disconnects
		r.Reconnects += s.reconnects
		r.HeartbeatsIn += s.hbIn
		r.HeartbeatsOut += s.hbOut
		r.Commands += s.commands
		r.Executed += s.executed
		r.Duplicates += s.duplicates
		lat = append(lat, s.lat...)
	}
	r.PointsAcked = r.Acked * int64(opts.Sensors*PointsPerFrame)
	slices.Sort(lat)
	r.P50Ms = ms(Percentile(lat, 50))
	r.P99Ms = ms(Percentile(lat, 99))
	if len(lat) > 0 {
		r.MaxMs = ms(lat[len(lat)-1])
	}
	return r
}
