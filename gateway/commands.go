package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
)

// State is where a command is in its life:
//
//	pending -> sent -> acknowledged -> succeeded | failed | expired
//	              \-> (no ack after 1+retries sends) failed
//
// Succeeded, failed and expired are final: nothing changes them again, so
// duplicate or late acks and results are harmless.
type State string

const (
	StatePending      State = "pending"      // stored, not yet handed to Send (stores of older nodes)
	StateSent         State = "sent"         // sent, waiting for the gateway's ack
	StateAcknowledged State = "acknowledged" // the gateway has it, waiting for the result
	StateSucceeded    State = "succeeded"
	StateFailed       State = "failed"  // the result said so, or no ack after every resend
	StateExpired      State = "expired" // acknowledged, but no result within ResultTimeout
)

// Final reports whether s can no longer change.
func (s State) Final() bool {
	return s == StateSucceeded || s == StateFailed || s == StateExpired
}

// CommandStatus is the name of a status query: a command whose result is
// the device's state report.
const CommandStatus = "status"

// Command defaults.
const (
	DefaultCommandTimeout = 30 * time.Second
	DefaultRetries        = 3
	DefaultResultTimeout  = 5 * time.Minute
)

// Command is one command as stored and as served by the API.
type Command struct {
	ID      string         `json:"id"`
	Device  string         `json:"device"`
	Gateway string         `json:"gateway"`
	Name    string         `json:"name"`
	Params  map[string]any `json:"params,omitempty"`
	State   State          `json:"state"`
	// Timeout is how long each send waits for the ack.
	Timeout time.Duration `json:"timeout_ns"`
	// Retries is how many resends follow the first send without an ack.
	Retries int `json:"retries"`
	// Attempts counts sends so far (1 + resends).
	Attempts int            `json:"attempts"`
	Created  time.Time      `json:"created"`
	Updated  time.Time      `json:"updated"`
	SentAt   time.Time      `json:"sent_at,omitzero"`  // last send
	AckedAt  time.Time      `json:"acked_at,omitzero"` // first ack
	Result   map[string]any `json:"result,omitempty"`
	// Error is the gateway's error text, the reason for failed or expired,
	// or the last Send error while the command is still live.
	Error string `json:"error,omitempty"`
}

// CommandOptions configures Commands. Zero values are usable.
type CommandOptions struct {
	Now           func() time.Time // default time.Now
	Logger        *slog.Logger     // default slog.Default()
	ResultTimeout time.Duration    // ack to result before expired (default 5m)
	Binary        bool             // send commands in the binary form (default JSON)
}

// Commands keeps commands durably in a kv.Store and drives them: send,
// resend under the same id until acknowledged, then wait for the result.
// The owner calls Tick periodically (every second is plenty) and Resume
// once at start. Safe for concurrent use.
//
// Each live command has its own lock, held across a change and its
// (synced) store write, so the writes of one command land in order while
// those of different commands run concurrently and the store can commit
// them together; the map of live commands has a short lock of its own.
type Commands struct {
	db   kv.Store
	send func(gw string, payload []byte) error
	now  func() time.Time
	log  *slog.Logger
	opt  CommandOptions

	mu   sync.Mutex              // guards live, never held across a store write
	live map[string]*liveCommand // commands not yet final
}

// liveCommand is a command not yet final. Lock order: liveCommand.mu
// before Commands.mu.
type liveCommand struct {
	mu  sync.Mutex // guards cmd and orders its store writes
	cmd Command
}

// NewCommands returns a manager storing commands in db (give it a
// kv.WithPrefix view) and sending them with send, which publishes payload
// on the gateway's down topic.
func NewCommands(db kv.Store, send func(gw string, payload []byte) error, opt CommandOptions) *Commands {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ResultTimeout <= 0 {
		opt.ResultTimeout = DefaultResultTimeout
	}
	return &Commands{db: db, send: send, now: opt.Now, log: opt.Logger, opt: opt, live: map[string]*liveCommand{}}
}

// Submit stores a new command for device behind gateway and sends it.
// timeout 0 means DefaultCommandTimeout; retries 0 means DefaultRetries and
// a negative value none. The command is stored once, already as sent, with
// no lock held across the write: concurrent Submits do not wait for each
// other's writes. A failing Send does not fail Submit: the command is
// durable and is resent on Tick; a failing write does, and nothing is sent.
func (c *Commands) Submit(device, gateway, name string, params map[string]any, timeout time.Duration, retries int) (Command, error) {
	if err := checkCommand(device, gateway, name, params); err != nil {
		return Command{}, err
	}
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	now := c.now().UTC()
	// Nobody knows the id before it is in live, so the write needs no lock;
	// a node that stops between the write and Send resends it after its
	// timeout, as a send lost on the way.
	cmd := Command{ID: newCommandID(now), Device: device, Gateway: gateway, Name: name,
		Params: params, State: StateSent, Timeout: timeout, Retries: retries, Attempts: 1,
		Created: now, Updated: now, SentAt: now}
	if err := c.put(&cmd); err != nil {
		return Command{}, err
	}
	lc := &liveCommand{cmd: cmd}
	c.mu.Lock()
	c.live[cmd.ID] = lc
	c.mu.Unlock()
	c.dispatch(lc, cmd.ID, cmd.Gateway, c.encode(&cmd, now))
	return cmd, nil
}

func checkCommand(device, gateway, name string, params map[string]any) error {
	if err := point.ValidName(device); err != nil {
		return fmt.Errorf("device: %v: %w", err, ErrInvalid)
	}
	if !ValidGatewayID(gateway) {
		return fmt.Errorf("gateway %q: %w", gateway, ErrInvalid)
	}
	if err := point.ValidName(name); err != nil {
		return fmt.Errorf("name: %v: %w", err, ErrInvalid)
	}
	if len(params) == 0 {
		return nil
	}
	b, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("params: %v: %w", err, ErrInvalid)
	}
	if len(b) > MaxObject {
		return fmt.Errorf("params: %d bytes: %w (limit %d)", len(b), ErrTooLarge, MaxObject)
	}
	return nil
}

// newCommandID is 12 hex digits of Unix ms then 8 random ones: unique, and
// sorted by creation time in the store.
func newCommandID(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go 1.24+)
	return fmt.Sprintf("%012x%08x", now.UnixMilli(), binary.BigEndian.Uint32(r[:]))
}

// markSent records one more send of cmd and returns the payload to send,
// or nil when the record could not be stored (the next Tick tries again).
// Callers hold the command's lock.
func (c *Commands) markSent(cmd *Command, now time.Time) []byte {
	next := *cmd
	next.State, next.Attempts, next.SentAt, next.Updated = StateSent, cmd.Attempts+1, now, now
	if err := c.put(&next); err != nil {
		c.log.Error("command: store send", "id", cmd.ID, "err", err)
		return nil
	}
	*cmd = next
	return c.encode(cmd, now)
}

func (c *Commands) encode(cmd *Command, now time.Time) []byte {
	env := Envelope{Type: TypeCommand, ID: cmd.ID, Time: now.UnixMilli(), Device: cmd.Device, Name: cmd.Name, Params: cmd.Params}
	return Encode(env, c.opt.Binary)
}

// dispatch calls Send with no lock held: an in-process gateway may ack
// from inside Send.
func (c *Commands) dispatch(lc *liveCommand, id, gw string, payload []byte) {
	if payload == nil || c.send == nil {
		return
	}
	err := c.send(gw, payload)
	if err == nil {
		return
	}
	c.log.Warn("command: send", "id", id, "gateway", gw, "err", err)
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.cmd.State == StateSent {
		lc.cmd.Error = "send: " + err.Error()
		if err := c.put(&lc.cmd); err != nil {
			c.log.Error("command: store", "id", id, "err", err)
		}
	}
}

// HandleAck records that gateway gw acknowledged command id. Acks of a
// command already acknowledged or final change nothing.
func (c *Commands) HandleAck(gw, id string) error {
	return c.update(gw, id, func(cmd *Command, now time.Time) bool {
		if cmd.State != StatePending && cmd.State != StateSent {
			return false
		}
		cmd.State, cmd.AckedAt, cmd.Error = StateAcknowledged, now, ""
		return true
	})
}

// HandleResult records the result of command id from gateway gw: succeeded
// when ok, else failed. A result without an ack counts as both; results of
// a final command change nothing.
func (c *Commands) HandleResult(gw, id string, ok bool, result map[string]any) error {
	return c.handleResult(gw, id, ok, result, "")
}

func (c *Commands) handleResult(gw, id string, ok bool, result map[string]any, errText string) error {
	return c.update(gw, id, func(cmd *Command, now time.Time) bool {
		if cmd.State.Final() {
			return false
		}
		if cmd.AckedAt.IsZero() {
			cmd.AckedAt = now
		}
		cmd.State, cmd.Result, cmd.Error = StateSucceeded, result, errText
		if !ok {
			cmd.State = StateFailed
		}
		return true
	})
}

// HandleEnvelope applies a command_ack or command_result envelope from
// gateway gw; other types are ignored.
func (c *Commands) HandleEnvelope(gw string, env Envelope) error {
	switch env.Type {
	case TypeCommandAck:
		return c.HandleAck(gw, env.ID)
	case TypeCommandResult:
		return c.handleResult(gw, env.ID, env.OK, env.Result, env.Error)
	}
	return nil
}

// update applies fn to command id under its lock and stores it when fn
// reports a change. A command that is not live (final, or not yet
// resumed) is read from the store.
func (c *Commands) update(gw, id string, fn func(cmd *Command, now time.Time) bool) error {
	if lc := c.lookup(id); lc != nil {
		return c.updateLive(lc, gw, id, fn)
	}
	return c.updateStored(gw, id, fn)
}

func (c *Commands) updateLive(lc *liveCommand, gw, id string, fn func(cmd *Command, now time.Time) bool) error {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.cmd.Gateway != gw {
		return fmt.Errorf("command %s: %w", id, ErrWrongGateway)
	}
	next := lc.cmd
	now := c.now().UTC()
	if !fn(&next, now) {
		return nil
	}
	next.Updated = now
	if err := c.put(&next); err != nil {
		return err
	}
	lc.cmd = next
	if next.State.Final() {
		c.retire(lc)
	}
	return nil
}

// updateStored is update for a command that is not live. Changes are rare
// here (duplicate answers of a final command change nothing), so the
// change is made under c.mu, which keeps it apart from a Resume.
func (c *Commands) updateStored(gw, id string, fn func(cmd *Command, now time.Time) bool) error {
	c.mu.Lock()
	if lc, ok := c.live[id]; ok { // resumed meanwhile
		c.mu.Unlock()
		return c.updateLive(lc, gw, id, fn)
	}
	defer c.mu.Unlock()
	cmd, err := c.get(id)
	if err != nil {
		return err
	}
	if cmd.Gateway != gw {
		return fmt.Errorf("command %s: %w", id, ErrWrongGateway)
	}
	now := c.now().UTC()
	if !fn(&cmd, now) {
		return nil
	}
	cmd.Updated = now
	if err := c.put(&cmd); err != nil {
		return err
	}
	if !cmd.State.Final() {
		c.live[id] = &liveCommand{cmd: cmd}
	}
	return nil
}

func (c *Commands) lookup(id string) *liveCommand {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live[id]
}

// retire drops a command that became final from live. Callers hold its lock.
func (c *Commands) retire(lc *liveCommand) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live[lc.cmd.ID] == lc {
		delete(c.live, lc.cmd.ID)
	}
}

// Tick drives timeouts: a command sent without ack for its timeout is
// resent (same id) or, after its last resend, failed; one acknowledged
// without result for ResultTimeout expires; a pending one is sent.
func (c *Commands) Tick() {
	now := c.now().UTC()
	c.mu.Lock()
	all := make([]*liveCommand, 0, len(c.live))
	for _, lc := range c.live {
		all = append(all, lc)
	}
	c.mu.Unlock()
	type out struct {
		lc      *liveCommand
		id, gw  string
		payload []byte
	}
	var sends []out
	for _, lc := range all {
		lc.mu.Lock()
		if p := c.step(&lc.cmd, now); p != nil {
			sends = append(sends, out{lc, lc.cmd.ID, lc.cmd.Gateway, p})
		}
		if lc.cmd.State.Final() {
			c.retire(lc)
		}
		lc.mu.Unlock()
	}
	for _, s := range sends {
		c.dispatch(s.lc, s.id, s.gw, s.payload)
	}
}

// step advances one live command; it returns a payload to send, if any.
// Callers hold the command's lock.
func (c *Commands) step(cmd *Command, now time.Time) []byte {
	switch cmd.State {
	case StatePending:
		return c.markSent(cmd, now)
	case StateSent:
		if now.Before(cmd.SentAt.Add(cmd.Timeout)) {
			return nil
		}
		if cmd.Attempts <= cmd.Retries {
			return c.markSent(cmd, now)
		}
		c.finish(cmd, now, StateFailed, fmt.Sprintf("no acknowledgement after %d sends", cmd.Attempts))
	case StateAcknowledged:
		if !now.Before(cmd.AckedAt.Add(c.opt.ResultTimeout)) {
			c.finish(cmd, now, StateExpired, fmt.Sprintf("no result within %v of the acknowledgement", c.opt.ResultTimeout))
		}
	}
	return nil
}

func (c *Commands) finish(cmd *Command, now time.Time, s State, reason string) {
	next := *cmd
	next.State, next.Error, next.Updated = s, reason, now
	if err := c.put(&next); err != nil {
		c.log.Error("command: store", "id", cmd.ID, "err", err)
		return
	}
	*cmd = next
	c.log.Info("command finished", "id", cmd.ID, "device", cmd.Device, "state", s, "reason", reason)
}

// Resume loads the unfinished commands after a restart and runs one Tick:
// pending ones are sent, sent ones whose timeout passed while the node was
// down are resent (or failed), the others wait for their ack or result.
func (c *Commands) Resume() error {
	c.mu.Lock()
	err := c.db.Scan([]byte(cmdKeyPrefix), func(_, v []byte) error {
		var cmd Command
		if err := json.Unmarshal(v, &cmd); err != nil {
			return fmt.Errorf("decode command: %w", err)
		}
		if !cmd.State.Final() {
			if _, ok := c.live[cmd.ID]; !ok {
				c.live[cmd.ID] = &liveCommand{cmd: cmd}
			}
		}
		return nil
	})
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("resume commands: %w", err)
	}
	c.Tick()
	return nil
}

// Filter selects commands in List; empty fields match everything.
type Filter struct {
	Device string
	State  State
}

// DefaultListLimit bounds List when its limit is 0.
const DefaultListLimit = 100

// Get returns the command with id, or ErrNotFound.
func (c *Commands) Get(id string) (Command, error) {
	if lc := c.lookup(id); lc != nil {
		lc.mu.Lock()
		defer lc.mu.Unlock()
		return lc.cmd, nil
	}
	return c.get(id)
}

// List returns up to limit commands matching f, newest first.
func (c *Commands) List(f Filter, limit int) ([]Command, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	var all []Command
	err := c.db.Scan([]byte(cmdKeyPrefix), func(_, v []byte) error {
		var cmd Command
		if err := json.Unmarshal(v, &cmd); err != nil {
			return fmt.Errorf("decode command: %w", err)
		}
		if (f.Device == "" || cmd.Device == f.Device) && (f.State == "" || cmd.State == f.State) {
			all = append(all, cmd)
			if len(all) > 2*limit { // keep memory bounded: only the newest limit matter
				all = append(all[:0], all[len(all)-limit:]...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list commands: %w", err)
	}
	out := make([]Command, 0, min(limit, len(all)))
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, all[i])
	}
	return out, nil
}

const cmdKeyPrefix = "c/"

func (c *Commands) put(cmd *Command) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("encode command %s: %w", cmd.ID, err)
	}
	if err := c.db.Put([]byte(cmdKeyPrefix+cmd.ID), b); err != nil {
		return fmt.Errorf("store command %s: %w", cmd.ID, err)
	}
	return nil
}

func (c *Commands) get(id string) (Command, error) {
	b, err := c.db.Get([]byte(cmdKeyPrefix + id))
	if errors.Is(err, kv.ErrNotFound) {
		return Command{}, fmt.Errorf("command %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Command{}, fmt.Errorf("load command %s: %w", id, err)
	}
	var cmd Command
	if err := json.Unmarshal(b, &cmd); err != nil {
		return Command{}, fmt.Errorf("decode command %s: %w", id, err)
	}
	return cmd, nil
}
