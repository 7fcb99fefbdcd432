package gateway

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgevault/edgevault/kv"
)

// quiet drops the log lines tests provoke on purpose.
var quiet = slog.New(slog.DiscardHandler)

// fakeClock is a manual clock; tests advance it explicitly.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// outbox records what Send was given.
type outbox struct {
	mu   sync.Mutex // guards the following
	sent []sentMsg
	err  error
}

type sentMsg struct {
	gw  string
	env Envelope
}

func (o *outbox) send(gw string, payload []byte) error {
	env, err := DecodeEnvelope(payload)
	if err != nil {
		panic("sent an undecodable envelope: " + err.Error())
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, sentMsg{gw, env})
	return o.err
}

func (o *outbox) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sent)
}

func (o *outbox) last() sentMsg {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.sent[len(o.sent)-1]
}

func newCommands(t *testing.T, db kv.Store, clk *fakeClock, out *outbox) *Commands {
	t.Helper()
	return NewCommands(db, out.send, CommandOptions{Now: clk.Now, ResultTimeout: time.Minute, Logger: quiet})
}

func mustGet(t *testing.T, c *Commands, id string) Command {
	t.Helper()
	cmd, err := c.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestCommandTimeoutResendsThenFails(t *testing.T) {
	clk, out := newClock(), &outbox{}
	c := newCommands(t, kv.NewMem(), clk, out)
	cmd, err := c.Submit("valve1", "hub1", "close", map[string]any{"force": true}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.State != StateSent || cmd.Attempts != 1 || cmd.Timeout != 30*time.Second || cmd.Retries != 3 {
		t.Fatalf("after submit: %+v", cmd)
	}
	for resend := 1; resend <= 3; resend++ {
		clk.Add(29 * time.Second)
		c.Tick()
		if n := out.count(); n != resend {
			t.Fatalf("resend %d: %d sends before the timeout", resend, n)
		}
		clk.Add(time.Second)
		c.Tick()
		if n := out.count(); n != resend+1 {
			t.Fatalf("resend %d: %d sends, want %d", resend, n, resend+1)
		}
	}
	clk.Add(30 * time.Second)
	c.Tick()
	c.Tick()
	if n := out.count(); n != 4 {
		t.Fatalf("%d sends, want 1 + 3 resends", n)
	}
	for _, m := range out.sent {
		if m.gw != "hub1" || m.env.Type != TypeCommand || m.env.ID != cmd.ID || m.env.Name != "close" || m.env.Device != "valve1" {
			t.Fatalf("sent %+v", m)
		}
	}
	got := mustGet(t, c, cmd.ID)
	if got.State != StateFailed || got.Attempts != 4 || got.Error == "" {
		t.Fatalf("after last timeout: %+v", got)
	}
	if err := c.HandleAck("hub1", cmd.ID); err != nil || mustGet(t, c, cmd.ID).State != StateFailed {
		t.Fatalf("late ack changed a failed command: %v", err)
	}
}

func TestCommandAckAndResult(t *testing.T) {
	tests := []struct {
		name      string
		ok        bool
		result    map[string]any
		wantState State
	}{
		{name: "succeeded", ok: true, result: map[string]any{"state": "closed"}, wantState: StateSucceeded},
		{name: "failed", ok: false, result: map[string]any{"code": 3.0}, wantState: StateFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk, out := newClock(), &outbox{}
			c := newCommands(t, kv.NewMem(), clk, out)
			cmd, _ := c.Submit("valve1", "hub1", "close", nil, 10*time.Second, 1)
			clk.Add(time.Second)
			if err := c.HandleAck("hub1", cmd.ID); err != nil {
				t.Fatal(err)
			}
			acked := mustGet(t, c, cmd.ID)
			if acked.State != StateAcknowledged || !acked.AckedAt.Equal(clk.Now()) {
				t.Fatalf("after ack: %+v", acked)
			}
			clk.Add(20 * time.Second)
			c.Tick()
			if out.count() != 1 {
				t.Fatalf("acknowledged command resent")
			}
			if err := c.HandleAck("hub1", cmd.ID); err != nil || mustGet(t, c, cmd.ID).Updated != acked.Updated {
				t.Fatalf("duplicate ack changed the command: %v", err)
			}
			if err := c.HandleResult("hub1", cmd.ID, tc.ok, tc.result); err != nil {
				t.Fatal(err)
			}
			done := mustGet(t, c, cmd.ID)
			if done.State != tc.wantState || done.Result == nil {
				t.Fatalf("after result: %+v", done)
			}
			clk.Add(time.Second)
			if err := c.HandleResult("hub1", cmd.ID, !tc.ok, nil); err != nil {
				t.Fatal(err)
			}
			if again := mustGet(t, c, cmd.ID); again.State != tc.wantState || !again.Updated.Equal(done.Updated) {
				t.Fatalf("duplicate result changed the command: %+v", again)
			}
		})
	}
}

func TestCommandErrors(t *testing.T) {
	clk, out := newClock(), &outbox{}
	c := newCommands(t, kv.NewMem(), clk, out)
	cmd, _ := c.Submit("valve1", "hub1", "close", nil, 0, 0)
	if err := c.HandleAck("hub2", cmd.ID); !errors.Is(err, ErrWrongGateway) {
		t.Fatalf("ack from another gateway: %v", err)
	}
	if err := c.HandleAck("hub1", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ack of unknown id: %v", err)
	}
	if _, err := c.Get("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
	bad := []struct {
		name, device, gw, cmd string
		params                map[string]any
		want                  error
	}{
		{"empty device", "", "hub1", "x", nil, ErrInvalid},
		{"gateway with slash", "d", "a/b", "x", nil, ErrInvalid},
		{"empty name", "d", "hub1", "", nil, ErrInvalid},
		{"params not json", "d", "hub1", "x", map[string]any{"c": make(chan int)}, ErrInvalid},
		{"params too large", "d", "hub1", "x", map[string]any{"s": string(make([]byte, MaxObject))}, ErrTooLarge},
	}
	for _, tc := range bad {
		if _, err := c.Submit(tc.device, tc.gw, tc.cmd, tc.params, 0, 0); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestCommandResultViaEnvelopeAndExpiry(t *testing.T) {
	clk, out := newClock(), &outbox{}
	c := newCommands(t, kv.NewMem(), clk, out)
	a, _ := c.Submit("d1", "hub1", CommandStatus, nil, 0, 0)
	b, _ := c.Submit("d2", "hub1", "open", nil, 0, 0)
	// A result without an ack (the ack was lost) still completes the command.
	res := Envelope{Type: TypeCommandResult, ID: a.ID, OK: false, Error: "busy", Result: map[string]any{"online": true}}
	if err := c.HandleEnvelope("hub1", res); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, c, a.ID); got.State != StateFailed || got.Error != "busy" || got.AckedAt.IsZero() {
		t.Fatalf("result envelope: %+v", got)
	}
	if err := c.HandleEnvelope("hub1", Envelope{Type: TypeCommandAck, ID: b.ID}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	c.Tick()
	if got := mustGet(t, c, b.ID); got.State != StateExpired {
		t.Fatalf("no result within the result timeout: %+v", got)
	}
}

func TestCommandSendFailureIsRetried(t *testing.T) {
	clk, out := newClock(), &outbox{err: errors.New("broker down")}
	c := newCommands(t, kv.NewMem(), clk, out)
	cmd, err := c.Submit("d1", "hub1", "open", nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, c, cmd.ID); got.State != StateSent || got.Error == "" {
		t.Fatalf("after failed send: %+v", got)
	}
	out.mu.Lock()
	out.err = nil
	out.mu.Unlock()
	clk.Add(30 * time.Second)
	c.Tick()
	if out.count() != 2 || out.last().env.ID != cmd.ID {
		t.Fatalf("not resent: %d sends", out.count())
	}
}

func TestCommandAckInsideSend(t *testing.T) {
	clk := newClock()
	var c *Commands
	send := func(gw string, payload []byte) error {
		env, err := DecodeEnvelope(payload)
		if err != nil {
			return err
		}
		return c.HandleAck(gw, env.ID) // an in-process gateway answering at once
	}
	c = NewCommands(kv.NewMem(), send, CommandOptions{Now: clk.Now, Logger: quiet})
	cmd, err := c.Submit("d1", "hub1", "open", nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, c, cmd.ID); got.State != StateAcknowledged {
		t.Fatalf("state %s, want acknowledged", got.State)
	}
}

// flakyKV refuses to record a send while failSent is set, as a node that
// dies between storing a command and sending it.
type flakyKV struct {
	kv.Store
	failSent bool
}

func (f *flakyKV) Put(k, v []byte) error {
	if f.failSent && strings.Contains(string(v), `"state":"sent"`) {
		return errors.New("disk full")
	}
	return f.Store.Put(k, v)
}

func TestCommandResume(t *testing.T) {
	clk, out := newClock(), &outbox{}
	db := &flakyKV{Store: kv.NewMem()}
	first := newCommands(t, db, clk, out)
	sent, _ := first.Submit("d1", "hub1", "open", nil, 0, 0)
	acked, _ := first.Submit("d2", "hub1", "open", nil, 0, 0)
	if err := first.HandleAck("hub1", acked.ID); err != nil {
		t.Fatal(err)
	}
	// A command that cannot be stored is refused and not sent: Submit
	// stores it once, as sent, before sending.
	db.failSent = true
	before := out.count()
	if _, err := first.Submit("d3", "hub2", "open", nil, 0, 0); err == nil || out.count() != before {
		t.Fatalf("submit with a failing store: err %v, %d sends", err, out.count()-before)
	}
	db.failSent = false
	// A pending command, stored and not yet handed to Send, as nodes before
	// the single write left them.
	pending := Command{ID: newCommandID(clk.Now()), Device: "d3", Gateway: "hub2", Name: "open", State: StatePending,
		Timeout: DefaultCommandTimeout, Retries: DefaultRetries, Created: clk.Now(), Updated: clk.Now()}
	if err := first.put(&pending); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Second)
	later, _ := first.Submit("d4", "hub2", "open", nil, 0, 0)

	// Restart 35 s after the first sends: only the store remains.
	clk.Add(25 * time.Second)
	out = &outbox{}
	second := newCommands(t, db, clk, out)
	if err := second.Resume(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range out.sent {
		got[m.env.ID]++
	}
	if len(out.sent) != 2 || got[pending.ID] != 1 || got[sent.ID] != 1 {
		t.Fatalf("resume sent %v; want the pending %s and the timed-out %s", got, pending.ID, sent.ID)
	}
	if c := mustGet(t, second, sent.ID); c.State != StateSent || c.Attempts != 2 {
		t.Fatalf("timed-out command after resume: %+v", c)
	}
	clk.Add(5 * time.Second)
	second.Tick()
	if out.count() != 3 || out.last().env.ID != later.ID {
		t.Fatalf("command sent 10 s later not resent once its timeout passed: %+v", out.sent)
	}
	if err := second.HandleResult("hub1", acked.ID, true, map[string]any{"v": 1.0}); err != nil {
		t.Fatal(err)
	}
	if c := mustGet(t, second, acked.ID); c.State != StateSucceeded || c.Result["v"] != 1.0 {
		t.Fatalf("acknowledged command completed after resume: %+v", c)
	}
}

func TestCommandList(t *testing.T) {
	clk, out := newClock(), &outbox{}
	c := newCommands(t, kv.NewMem(), clk, out)
	var ids []string
	for i, dev := range []string{"a", "b", "a", "a"} {
		clk.Add(time.Millisecond)
		cmd, err := c.Submit(dev, "hub1", "n", nil, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cmd.ID)
		if i == 2 {
			c.HandleResult("hub1", cmd.ID, true, nil)
		}
	}
	tests := []struct {
		name  string
		f     Filter
		limit int
		want  []string
	}{
		{name: "all newest first", want: []string{ids[3], ids[2], ids[1], ids[0]}},
		{name: "by device", f: Filter{Device: "a"}, want: []string{ids[3], ids[2], ids[0]}},
		{name: "by state", f: Filter{State: StateSucceeded}, want: []string{ids[2]}},
		{name: "device and state", f: Filter{Device: "a", State: StateSent}, want: []string{ids[3], ids[0]}},
		{name: "limit", f: Filter{Device: "a"}, limit: 2, want: []string{ids[3], ids[2]}},
		{name: "none", f: Filter{Device: "z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.List(tc.f, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, cmd := range got {
				gotIDs = append(gotIDs, cmd.ID)
			}
			if strings.Join(gotIDs, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", gotIDs, tc.want)
			}
		})
	}
}

func TestCommandsConcurrent(t *testing.T) {
	clk, out := newClock(), &outbox{}
	c := newCommands(t, kv.NewMem(), clk, out)
	const n = 50
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd, err := c.Submit("d"+strconv.Itoa(i), "hub1", "open", nil, 0, 0)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- cmd.ID
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			clk.Add(10 * time.Second)
			c.Tick()
		}
	}()
	wg.Wait()
	close(ids)
	for id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.HandleAck("hub1", id)
			_ = c.HandleResult("hub1", id, true, nil)
			_ = c.HandleResult("hub1", id, false, nil)
		}()
	}
	wg.Wait()
	<-done
	all, err := c.List(Filter{}, n)
	if err != nil || len(all) != n {
		t.Fatalf("%d commands, %v", len(all), err)
	}
	for _, cmd := range all {
		if !cmd.State.Final() {
			t.Fatalf("command left live: %+v", cmd)
		}
	}
}

// BenchmarkCommandRoundTrip is submit -> ack -> result on the in-memory
// store, the platform's share of a command's round trip.
func BenchmarkCommandRoundTrip(b *testing.B) {
	c := NewCommands(kv.NewMem(), func(string, []byte) error { return nil }, CommandOptions{Logger: quiet})
	b.ReportAllocs()
	for b.Loop() {
		cmd, err := c.Submit("valve1", "hub1", "close", map[string]any{"force": true}, 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.HandleAck("hub1", cmd.ID); err != nil {
			b.Fatal(err)
		}
		if err := c.HandleResult("hub1", cmd.ID, true, nil); err != nil {
			b.Fatal(err)
		}
	}
}
