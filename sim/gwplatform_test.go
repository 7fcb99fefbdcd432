package sim

import (
	"errors"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/edgevault/edgevault/config"
	"github.com/edgevault/edgevault/gateway"
	"github.com/edgevault/edgevault/kv"
)

// platform is a tiny edge node for the gateway tests: an in-process mochi
// broker whose inline client decodes every up envelope, decodes group
// frames with the sim-env contract of examples/edge.yaml, acks reports
// (except the deliveries it is told to leave unacked) and tracks commands
// with a real gateway.Commands.
type platform struct {
	t      *testing.T
	srv    *mochi.Server
	addr   string
	topics gateway.Topics
	dec    gateway.Decoder
	cmds   *gateway.Commands
	out    chan downMsg

	mu       sync.Mutex                          // guards the following
	ups      map[string][]gateway.Envelope       // gateway -> envelopes in arrival order
	payloads map[string][][]byte                 // "gw id" -> every delivery of a report
	stored   map[string]float64                  // "device metric ts" -> value, as a store would keep it
	frameErr int                                 // frames the contract rejected
	noAck    map[string]int                      // "gw id" -> deliveries still to leave unacked
	onUp     func(gw string, e gateway.Envelope) // optional, called outside mu
}

type downMsg struct {
	topic   string
	payload []byte
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	cfg, err := config.Load("../examples/edge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	frames, err := gateway.NewContractFrames(cfg.Contracts)
	if err != nil {
		t.Fatal(err)
	}
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := s.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	p := &platform{
		t: t, srv: s, addr: tcp.Address(), dec: gateway.Decoder{Frames: frames}, out: make(chan downMsg, 1024),
		ups: map[string][]gateway.Envelope{}, payloads: map[string][][]byte{}, stored: map[string]float64{},
		noAck: map[string]int{},
	}
	p.cmds = gateway.NewCommands(kv.NewMem(), p.sendDown, gateway.CommandOptions{Logger: discardLogger()})
	if err := s.Subscribe(p.topics.UpFilter(), 1, p.receive); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // publishes outside the inline subscription's callback
		defer close(done)
		for m := range p.out {
			s.Publish(m.topic, m.payload, false, 1)
		}
	}()
	t.Cleanup(func() { close(p.out); <-done; s.Close() })
	return p
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (p *platform) sendDown(gw string, payload []byte) error {
	p.out <- downMsg{p.topics.Down(gw), payload}
	return nil
}

func (p *platform) receive(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
	gw, up, ok := p.topics.Parse(pk.TopicName)
	if !ok || !up {
		return
	}
	env, err := gateway.DecodeEnvelope(pk.Payload)
	if err != nil {
		p.t.Errorf("platform: %s: %v", pk.TopicName, err)
		return
	}
	p.mu.Lock()
	p.ups[gw] = append(p.ups[gw], env)
	ack := false
	if env.Type == gateway.TypeGroup {
		ack = p.storeGroup(gw, env, slices.Clone(pk.Payload))
	}
	onUp := p.onUp
	p.mu.Unlock()
	switch env.Type {
	case gateway.TypeCommandAck, gateway.TypeCommandResult:
		if err := p.cmds.HandleEnvelope(gw, env); err != nil && !errors.Is(err, gateway.ErrNotFound) {
			p.t.Errorf("platform: %s %s: %v", env.Type, env.ID, err)
		}
	}
	if ack {
		p.sendDown(gw, gateway.AckFor(env))
	}
	if onUp != nil {
		onUp(gw, env)
	}
}

// storeGroup decodes and keeps a group's readings; it reports whether to
// ack this delivery. Callers hold mu.
func (p *platform) storeGroup(gw string, env gateway.Envelope, payload []byte) bool {
	key := gw + " " + env.ID
	p.payloads[key] = append(p.payloads[key], payload)
	rs, ferrs := p.dec.DecodeGroup(env, time.Now().UnixMilli())
	p.frameErr += len(ferrs)
	for _, r := range rs {
		f, _ := r.Value.AsFloat()
		p.stored[r.Device+" "+r.Metric+" "+strconv.FormatInt(r.Time, 10)] = f
	}
	if p.noAck[key] > 0 {
		p.noAck[key]--
		return false
	}
	return true
}

// leaveUnacked makes the platform ignore the first n deliveries of a report.
func (p *platform) leaveUnacked(gw, id string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.noAck[gw+" "+id] = n
}

func (p *platform) setOnUp(fn func(gw string, e gateway.Envelope)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onUp = fn
}

// received returns the envelopes of type typ gw sent, in arrival order.
func (p *platform) received(gw string, typ gateway.Type) []gateway.Envelope {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []gateway.Envelope
	for _, e := range p.ups[gw] {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (p *platform) deliveries(gw, id string) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.payloads[gw+" "+id])
}

func (p *platform) storedPoints() map[string]float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.stored)
}

// kick drops a client's connection from the broker side.
func (p *platform) kick(t *testing.T, id string) {
	t.Helper()
	cl, ok := p.srv.Clients.Get(id)
	if !ok {
		t.Fatalf("kick: no client %q", id)
	}
	cl.Stop(errors.New("kicked by the test"))
}

// eventually polls cond for up to 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func ids(envs []gateway.Envelope) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.ID
	}
	return out
}

func hasPrefixAll(ss []string, prefix string) bool {
	for _, s := range ss {
		if !strings.HasPrefix(s, prefix) {
			return false
		}
	}
	return true
}
