package edge

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/broker"
	"github.com/edgevault/edgevault/gateway"
	"github.com/edgevault/edgevault/ingest"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

// gateways speaks the gateway protocol: it decodes what gateways send on
// their up topics, stores the readings, acknowledges reports once they are
// durable, drives commands and tracks presence with heartbeats.
type gateways struct {
	n      *Node
	topics gateway.Topics
	dec    gateway.Decoder
	cmds   *gateway.Commands
	hb     *gateway.Heartbeats
	acks   *ackSender
}

func (n *Node) openGateways(meta kv.Store) error {
	frames, err := gateway.NewContractFrames(n.cfg.AllContracts())
	if err != nil {
		return fmt.Errorf("gateway contracts: %w", err)
	}
	g := &gateways{n: n, topics: gateway.Topics{Prefix: n.cfg.Gateway.Prefix}, dec: gateway.Decoder{Frames: frames}}
	log := n.log.With("component", "gateway")
	g.cmds = gateway.NewCommands(n.metaFor("commands/", batch.KindCommands), g.send,
		gateway.CommandOptions{Logger: log, Binary: n.cfg.Gateway.Binary})
	g.hb = gateway.NewHeartbeats(gateway.HeartbeatOptions{
		Interval: n.cfg.Gateway.HeartbeatInterval, Send: g.send, OnChange: g.presence,
		Logger: log, Binary: n.cfg.Gateway.Binary,
	})
	g.acks = &ackSender{send: g.send, log: log, wake: make(chan struct{}, 1)}
	n.gw = g
	return nil
}

// send publishes on a gateway's down topic.
func (g *gateways) send(gw string, payload []byte) error {
	return g.n.mqtt.Publish(g.topics.Down(gw), payload, false, 1)
}

// presence makes gateway transitions registry events rules can match.
func (g *gateways) presence(e gateway.Event) {
	g.n.reg.SetStatus(e.Gateway, e.Online, e.At)
}

func (g *gateways) tick() {
	g.cmds.Tick()
	g.hb.Tick()
}

// handleUp takes one message from a gateway, as broker.Handler's
// HandlePublish: what the message carries (readings, dead letters, command
// states) is durable once wait, when not nil, returns nil.
func (g *gateways) handleUp(gw string, m broker.Message) (wait func() error, err error) {
	g.hb.Seen(gw)
	// The registry links the gateway's devices to the gateway id, which is
	// where their commands go (a gateway connects with client id = its id).
	msg := ingest.Message{ClientID: gw, Topic: m.Topic, Payload: m.Payload, Received: m.Received}
	env, err := gateway.DecodeEnvelope(m.Payload)
	if err != nil {
		return nil, g.n.pipe.DeadLetter(msg, "gateway", err.Error())
	}
	received := m.Received.UnixMilli()
	switch env.Type {
	case gateway.TypeGroup:
		readings, bad := g.dec.DecodeGroup(env, received)
		for _, fe := range bad {
			if err := g.n.pipe.DeadLetter(msg, fe.Frame.Contract, fe.Error()); err != nil {
				return nil, err
			}
		}
		return g.storeAndAck(gw, msg, env, readings)
	case gateway.TypeReport, gateway.TypeStatus:
		return g.storeAndAck(gw, msg, env, gateway.Readings(gw, env, received))
	case gateway.TypeCommandAck, gateway.TypeCommandResult:
		if err := g.cmds.HandleEnvelope(gw, env); err != nil {
			g.n.log.Warn("gateway command answer refused", "gateway", gw, "id", env.ID, "err", err)
		}
	}
	return nil, nil
}

// storeAndAck stores the readings of a report and, once they are durable,
// acknowledges it on the down topic: a gateway resends what is not
// acknowledged, and a resend of stored readings overwrites them with the
// same values.
func (g *gateways) storeAndAck(gw string, msg ingest.Message, env gateway.Envelope, readings []point.Reading) (func() error, error) {
	stored, err := g.n.pipe.StoreReadingsAsync(msg, gatewayContract, readings)
	if err != nil {
		return nil, err
	}
	return func() error {
		if stored != nil {
			if err := stored(); err != nil {
				return err
			}
		}
		if env.ID != "" {
			g.acks.enqueue(gw, env.ID, gateway.AckFor(env))
		}
		return nil
	}, nil
}

// ackSender publishes report acks from its own goroutine. Publishing from
// the gateway's connection goroutine runs the broker's whole publish path
// on top of the one handling the report, and that goroutine's stack, shrunk
// by the GC while it waits for the next report, was grown (copied) again
// for nearly every ack: about 10% of the node's CPU at 300 gateways. The
// goroutine runs while there are acks and ends after ackIdle without any.
// An ack that is never sent (the node stops) is harmless: the gateway
// resends the report and gets another.
type ackSender struct {
	send func(gw string, payload []byte) error
	log  *slog.Logger
	wake chan struct{} // buffered 1: acks queued while running

	mu      sync.Mutex // guards the following
	queue   []queuedAck
	running bool
}

type queuedAck struct {
	gw, id  string
	payload []byte
}

const (
	ackIdle      = time.Second
	maxAcksQueue = 1 << 14 // past this, acks are sent by the caller
)

func (s *ackSender) enqueue(gw, id string, payload []byte) {
	s.mu.Lock()
	if len(s.queue) >= maxAcksQueue {
		s.mu.Unlock()
		s.publish(queuedAck{gw, id, payload})
		return
	}
	s.queue = append(s.queue, queuedAck{gw, id, payload})
	if !s.running {
		s.running = true
		go s.run()
	} else {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
}

func (s *ackSender) run() {
	var batch []queuedAck
	idle := time.NewTimer(ackIdle)
	defer idle.Stop()
	for {
		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		s.mu.Unlock()
		for _, a := range batch {
			s.publish(a)
		}
		clear(batch)
		if len(batch) > 0 {
			continue
		}
		idle.Reset(ackIdle)
		select {
		case <-s.wake:
		case <-idle.C:
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.running = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
}

func (s *ackSender) publish(a queuedAck) {
	if err := s.send(a.gw, a.payload); err != nil {
		s.log.Warn("gateway ack not sent", "gateway", a.gw, "id", a.id, "err", err)
	}
}

// Commands for the API.

func (g *gateways) submit(device, name string, params map[string]any, timeout time.Duration, retries int) (gateway.Command, error) {
	d, ok := g.n.reg.Get(device)
	if !ok {
		return gateway.Command{}, fmt.Errorf("%w: device %q", gateway.ErrNotFound, device)
	}
	if d.Contract != gatewayContract || !gateway.ValidGatewayID(d.ClientID) {
		return gateway.Command{}, fmt.Errorf("%w: device %q does not report through a gateway", gateway.ErrInvalid, device)
	}
	return g.cmds.Submit(device, d.ClientID, name, params, timeout, retries)
}

// gatewayContract is the registry's contract name for gateway readings.
const gatewayContract = "gateway"

// commandDesk is the API's view of commands and gateways.
type commandDesk struct{ g *gateways }

func (d commandDesk) Submit(device, name string, params map[string]any, timeout time.Duration, retries int) (gateway.Command, error) {
	return d.g.submit(device, name, params, timeout, retries)
}
func (d commandDesk) Get(id string) (gateway.Command, error) { return d.g.cmds.Get(id) }
func (d commandDesk) List(f gateway.Filter, limit int) ([]gateway.Command, error) {
	return d.g.cmds.List(f, limit)
}
func (d commandDesk) Gateways() []gateway.Presence { return d.g.hb.List() }
