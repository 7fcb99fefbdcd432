package sim

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgevault/edgevault/gateway"
)

// maxExecuted bounds the command ids a gateway remembers as executed.
const maxExecuted = 10000

// simGateway is one simulated gateway. Its state is owned by the goroutine
// running run (and by connect before that); paho's callbacks only forward
// to inbox.
type simGateway struct {
	opts     GatewayOptions
	id       string
	up, down string
	log      *slog.Logger
	rng      *rand.Rand // the flaky link's dice
	jit      *rand.Rand // resend jitter, apart so the link's dice stay as seeded

	walkers []*walker
	sensors []string
	latest  []Sample

	client    mqtt.Client // nil while disconnected
	gen       int         // connection generation; events of older ones are stale
	inbox     chan inMsg
	done      chan struct{}
	closeOnce sync.Once
	delayed   sync.WaitGroup // flaky delayed publishes in flight
	redial    *time.Timer    // pending reconnect, nil when none

	next      int          // index of the next report
	outbox    []*outReport // unacknowledged reports, oldest first
	inFlight  int          // reports of outbox sent on the current connection
	executed  map[string]map[string]any
	execOrder []string
	st        gwStats
}

// inMsg is a down-topic message or a lost connection, from paho.
type inMsg struct {
	gen     int
	lost    bool
	payload []byte
}

// outReport is a report kept until the platform acknowledges it.
type outReport struct {
	id       string
	payload  []byte
	created  time.Time
	lastSent time.Time // zero: not sent yet
	due      time.Time // next resend, while in flight
	sends    int
	inFlight bool // sent on the current connection, not acknowledged
	held     bool // counted once as held back by MaxInFlight
}

func newSimGateway(opts GatewayOptions, index int) *simGateway {
	id := opts.GatewayID(index)
	g := &simGateway{
		opts: opts, id: id, up: opts.Topics.Up(id), down: opts.Topics.Down(id),
		log:      opts.Logger.With("gateway", id),
		rng:      rand.New(rand.NewPCG(opts.Seed^0x9e3779b97f4a7c15, uint64(index))),
		jit:      rand.New(rand.NewPCG(opts.Seed^0x6a09e667f3bcc909, uint64(index))),
		inbox:    make(chan inMsg, 256),
		done:     make(chan struct{}),
		executed: map[string]map[string]any{},
	}
	for k := range opts.Sensors {
		w := newWalker(opts.Seed, index*opts.Sensors+k)
		g.walkers = append(g.walkers, w)
		g.sensors = append(g.sensors, SensorID(id, k))
		g.latest = append(g.latest, w.s)
	}
	return g
}

// deliver hands a paho event to the loop, or drops it once the gateway ended.
func (g *simGateway) deliver(m inMsg) {
	select {
	case g.inbox <- m:
	case <-g.done:
	}
}

// connect dials the broker, subscribes to the down topic, then says hello
// with a heartbeat and sends the oldest buffered reports, as many as
// MaxInFlight allows.
func (g *simGateway) connect() error {
	g.gen++
	gen := g.gen
	o := mqtt.NewClientOptions().AddBroker("tcp://" + g.opts.Broker).SetClientID(g.id).
		SetUsername(g.id).SetPassword(g.opts.Password).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectRetry(false).SetConnectTimeout(g.opts.ConnectTimeout).
		SetWriteTimeout(g.opts.ConnectTimeout).SetOrderMatters(false).SetKeepAlive(30 * time.Second).
		SetConnectionLostHandler(func(mqtt.Client, error) { g.deliver(inMsg{gen: gen, lost: true}) })
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(g.opts.ConnectTimeout) {
		c.Disconnect(0)
		return fmt.Errorf("connect: timeout after %v", g.opts.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	sub := c.Subscribe(g.down, 1, func(_ mqtt.Client, m mqtt.Message) {
		g.deliver(inMsg{gen: gen, payload: m.Payload()})
	})
	if !sub.WaitTimeout(g.opts.ConnectTimeout) || sub.Error() != nil {
		c.Disconnect(0)
		return fmt.Errorf("subscribe %s: %v", g.down, sub.Error())
	}
	g.client = c
	g.heartbeat("hb-" + g.id + "-" + fmt.Sprint(g.opts.Now().UnixMilli()))
	g.fill()
	return nil
}

// disconnected forgets the connection and schedules a reconnect after wait.
func (g *simGateway) disconnected(wait time.Duration) {
	if g.client != nil {
		g.client.Disconnect(0)
		g.client = nil
	}
	g.gen++ // events of the old connection are stale now
	for _, r := range g.outbox {
		r.inFlight = false // lost with the connection: sent again on the next one
	}
	g.inFlight = 0
	g.st.disconnects++
	g.redial = time.NewTimer(wait)
}

// reconnect tries again, and schedules another try when that fails.
func (g *simGateway) reconnect() {
	g.redial = nil
	if err := g.connect(); err != nil {
		g.log.Debug("sim gateway: reconnect failed", "err", err)
		g.redial = time.NewTimer(g.opts.ReconnectDelay)
		return
	}
	g.st.reconnects++
}

func (g *simGateway) redialC() <-chan time.Time {
	if g.redial == nil {
		return nil
	}
	return g.redial.C
}

// publish hands one envelope to the link, which may lose or delay it.
func (g *simGateway) publish(payload []byte) {
	g.st.envelopes++
	c := g.client
	f := g.opts.Flaky
	switch {
	case c == nil:
		return
	case f.Drop > 0 && g.rng.Float64() < f.Drop:
		g.st.dropped++
	case f.Delay > 0 && g.rng.Float64() < f.Delay:
		g.st.delayed++
		d := time.Duration(g.rng.Int64N(int64(f.MaxDelay)) + 1)
		g.delayed.Add(1)
		time.AfterFunc(d, func() {
			defer g.delayed.Done()
			c.Publish(g.up, 1, false, payload)
		})
	default:
		c.Publish(g.up, 1, false, payload)
	}
}

func (g *simGateway) encode(env gateway.Envelope) []byte {
	return gateway.Encode(env, g.opts.Binary)
}

func (g *simGateway) heartbeat(id string) {
	g.st.hbOut++
	g.publish(g.encode(gateway.Envelope{Type: gateway.TypeHeartbeat, ID: id, Time: g.opts.Now().UnixMilli()}))
}

// close ends the gateway: no more events, delayed publishes flushed, the
// connection closed. Safe to call more than once.
func (g *simGateway) close() {
	g.closeOnce.Do(func() {
		close(g.done)
		if g.redial != nil {
			g.redial.Stop()
		}
		g.delayed.Wait()
		if g.client != nil {
			g.client.Disconnect(100)
			g.client = nil
		}
		g.st.unacked = int64(len(g.outbox))
	})
}
