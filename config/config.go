// Package config loads the edge node's YAML configuration: strict (an
// unknown key is an error), with defaults that run as they are, and
// validation that names the key and the reason.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgevault/edgevault/broker"
	"github.com/edgevault/edgevault/codec"
	"github.com/edgevault/edgevault/notify"
	"github.com/edgevault/edgevault/routing"
	"github.com/edgevault/edgevault/rules"
	"github.com/edgevault/edgevault/uplink"
)

// Config is the whole edge node configuration. The zero value of every
// section means "use the default"; Default() returns the filled-in form.
type Config struct {
	// Data is the directory of the local store (default ./data).
	Data string `yaml:"data"`
	// MQTT configures the embedded broker: listeners, users, ACLs, limits.
	MQTT broker.Config `yaml:"mqtt"`
	HTTP HTTP          `yaml:"http"`
	// Store tunes durability and retention of the local store.
	Store Store `yaml:"store"`
	// Registry tunes device presence.
	Registry Registry `yaml:"registry"`
	// DeadLetters bounds the dead-letter store.
	DeadLetters DeadLetters `yaml:"dead_letters"`
	// Contracts are the user's parsing contracts, tried in order before the
	// presets.
	Contracts []codec.Contract `yaml:"contracts"`
	// Presets enables the built-in contracts (zigbee2mqtt, Tasmota, generic
	// JSON); default true.
	Presets *bool `yaml:"presets"`
	// LineProtocol names devices and metrics in InfluxDB line protocol
	// (HTTP /write and the line-protocol contracts).
	LineProtocol codec.LineOptions `yaml:"line_protocol"`
	// Rules are analytics rules (windows, alerts, patterns); read-only over
	// the API, where more can be added. Schema in rules/doc.go.
	Rules []rules.Rule `yaml:"rules"`
	// Routing rules decide per reading: store, drop, sample, forward, and
	// the uplink priority. Schema in routing/doc.go.
	Routing []routing.Rule `yaml:"routing"`
	// Gateway configures the gateway protocol (gw/<id>/up, gw/<id>/down).
	Gateway Gateway `yaml:"gateway"`
	// Notify configures where alerts are delivered.
	Notify Notify `yaml:"notify"`
	// Uplink forwards everything stored to the cloud; off while urls is
	// empty. Schema in uplink/doc.go.
	Uplink uplink.Config `yaml:"uplink"`
	// MemoryLimitBytes is the floor of the Go runtime's soft memory limit
	// (default 100 MiB; 0 disables it): the garbage collector works harder
	// near it instead of letting the heap double. When the live heap grows
	// past half of it, the limit follows at twice the live heap
	// (internal/memlimit), so a big site does not spend its CPU in the
	// collector; below it GOGC is raised (100-400) so the heap may grow to
	// half the limit between collections, unless GOGC is set. The
	// GOMEMLIMIT environment variable, when set, wins.
	MemoryLimitBytes int64 `yaml:"memory_limit_bytes"`
	Log              Log   `yaml:"log"`

	// compiled remembers the rules Validate compiled; copies of the Config
	// share it.
	compiled *compiledRules
}

// compiledRules remembers the last rule set Validate compiled, so that
// validating the same configuration again (the node does on its way up)
// and starting the rule service (CompiledRules) do not compile it again:
// 10,000 rules take a quarter of a second or more.
type compiledRules struct {
	mu   sync.Mutex // guards the following
	done bool
	snap []rules.Rule // copies of the rules compiled
	out  []*rules.Compiled
	err  error
}

// HTTP configures the REST API listener.
type HTTP struct {
	Addr string `yaml:"addr"` // default 127.0.0.1:8080
	// MaxBodyBytes bounds a request body, /write included (default 32 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Pprof serves Go's profiler under /debug/pprof/ (default false).
	Pprof bool `yaml:"pprof"`
	// Token, when set, is required on every API route but /healthz and
	// /ping: "Authorization: Bearer <token>" (InfluxDB clients may send it
	// as the password). Empty (default) leaves the API open, which is what
	// a loopback listener wants; set it before listening elsewhere.
	Token string `yaml:"token"`
}

// Store configures the local time-series store.
type Store struct {
	// Fsync is "interval" (default: every commit is written to the WAL and
	// survives kill -9; fsync runs every FsyncInterval, so a power loss can
	// lose at most that much) or "always" (every commit is fsynced before the
	// publish is acknowledged).
	Fsync         string        `yaml:"fsync"`
	FsyncInterval time.Duration `yaml:"fsync_interval"` // default 1s
	// Retention of raw points; 0 keeps them forever.
	Retention time.Duration `yaml:"retention"`
	// RollupRetention of the 1m/1h rollups; 0 keeps them forever.
	RollupRetention time.Duration `yaml:"rollup_retention"`
	// CacheBytes is the block cache size (default 16 MiB).
	CacheBytes int64 `yaml:"cache_bytes"`
}

// Registry configures device presence.
type Registry struct {
	// OfflineAfter marks a device offline when nothing was heard from it for
	// that long (default 5m).
	OfflineAfter time.Duration `yaml:"offline_after"`
}

// DeadLetters bounds the dead-letter store.
type DeadLetters struct {
	MaxEntries int `yaml:"max_entries"` // default 10000; the oldest are evicted and counted
}

// Gateway configures the gateway protocol; see gateway/doc.go.
type Gateway struct {
	// Prefix of the topic pair gw/<id>/up and gw/<id>/down (default gw).
	Prefix string `yaml:"prefix"`
	// HeartbeatInterval between heartbeats sent on each down topic
	// (default 1m); a gateway silent for 3 intervals is offline.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// Binary sends commands and heartbeats in the compact binary envelope
	// (default JSON); acks answer in the form of the report.
	Binary bool `yaml:"binary"`
}

// Notify lists the notification channels; every alert transition goes to
// each channel whose min_severity it meets. Schema in notify/doc.go.
type Notify struct {
	Channels []notify.Channel `yaml:"channels"`
}

// Log configures the structured logger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// Default returns the configuration that runs with no file at all.
func Default() Config {
	presets := true
	return Config{
		Data:             "./data",
		MQTT:             broker.DefaultConfig(),
		HTTP:             HTTP{Addr: "127.0.0.1:8080", MaxBodyBytes: 32 << 20},
		Store:            Store{Fsync: "interval", FsyncInterval: time.Second, CacheBytes: 16 << 20},
		Registry:         Registry{OfflineAfter: 5 * time.Minute},
		DeadLetters:      DeadLetters{MaxEntries: 10000},
		Presets:          &presets,
		LineProtocol:     codec.DefaultLineOptions(),
		Gateway:          Gateway{Prefix: "gw", HeartbeatInterval: time.Minute},
		Log:              Log{Level: "info", Format: "text"},
		MemoryLimitBytes: 100 << 20,
		Uplink:           uplink.DefaultConfig(),
		compiled:         &compiledRules{},
	}
}

// Load reads a YAML file over the defaults. An empty path returns the
// defaults.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, cfg.Validate()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := Decode(bytes.NewReader(b), &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// Decode strictly decodes YAML into cfg, keeping the values the document
// does not set.
func Decode(r io.Reader, cfg *Config) error {
	src, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s", withKeys(src, strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	return nil
}

// withKeys adds the dotted key path to yaml.v3's "line N: ..." messages,
// which name only the line.
func withKeys(src []byte, msg string) string {
	var root yaml.Node
	if yaml.Unmarshal(src, &root) != nil {
		return msg
	}
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(l), "line %d:", &n); err == nil {
			if key := keyAtLine(&root, n, ""); key != "" {
				lines[i] = l + " (key " + key + ")"
			}
		}
	}
	return strings.Join(lines, "\n")
}

func keyAtLine(n *yaml.Node, line int, path string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if k := keyAtLine(c, line, path); k != "" {
				return k
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			p := strings.TrimPrefix(path+"."+key.Value, ".")
			if key.Line == line || val.Line == line && val.Kind == yaml.ScalarNode {
				return p
			}
			if k := keyAtLine(val, line, p); k != "" {
				return k
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if k := keyAtLine(c, line, fmt.Sprintf("%s[%d]", path, i)); k != "" {
				return k
			}
		}
	}
	return ""
}

// Validate checks the whole configuration; the error names the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Data == "" {
		bad("data", "must not be empty")
	}
	if c.HTTP.Addr == "" {
		bad("http.addr", "must not be empty")
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes", "must be positive, got %d", c.HTTP.MaxBodyBytes)
	}
	switch c.Store.Fsync {
	case "interval", "always":
	default:
		bad("store.fsync", "must be interval or always, got %q", c.Store.Fsync)
	}
	if c.Store.Fsync == "interval" && c.Store.FsyncInterval <= 0 {
		bad("store.fsync_interval", "must be positive, got %s", c.Store.FsyncInterval)
	}
	if c.Store.Retention < 0 || c.Store.RollupRetention < 0 {
		bad("store.retention", "must not be negative")
	}
	if err := c.Uplink.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Gateway.Prefix == "" || strings.ContainsAny(c.Gateway.Prefix, "+#") {
		bad("gateway.prefix", "must be a topic prefix without wildcards, got %q", c.Gateway.Prefix)
	}
	if c.Gateway.HeartbeatInterval <= 0 {
		bad("gateway.heartbeat_interval", "must be positive, got %s", c.Gateway.HeartbeatInterval)
	}
	if c.Registry.OfflineAfter <= 0 {
		bad("registry.offline_after", "must be positive, got %s", c.Registry.OfflineAfter)
	}
	if c.MemoryLimitBytes < 0 {
		bad("memory_limit_bytes", "must not be negative, got %d", c.MemoryLimitBytes)
	}
	if c.DeadLetters.MaxEntries <= 0 {
		bad("dead_letters.max_entries", "must be positive, got %d", c.DeadLetters.MaxEntries)
	}
	if _, err := ParseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	if err := c.MQTT.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			errs = append(errs, errors.New("mqtt."+line))
		}
	}
	if _, err := codec.NewSet(c.AllContracts()); err != nil {
		errs = append(errs, fmt.Errorf("contracts: %w", err))
	}
	if err := notify.Validate(c.Notify.Channels); err != nil {
		errs = append(errs, err) // names notify.channels[i].key
	}
	if _, err := routing.Compile(c.Routing); err != nil {
		errs = append(errs, fmt.Errorf("routing: %w", err))
	}
	if _, err := c.CompiledRules(); err != nil {
		errs = append(errs, fmt.Errorf("rules: %w", err))
	}
	return errors.Join(errs...)
}

// CompiledRules returns Rules compiled (rules.CompileAll), compiling them
// only if they differ from those the last call (or Validate) compiled on
// this Config or a copy (a Config from Default or Load remembers). The
// comparison is with copies of the Rule values: change a rule by setting
// it or its fields, not through a pointer it holds (Threshold, Window...),
// which the copy shares.
func (c *Config) CompiledRules() ([]*rules.Compiled, error) {
	cr := c.compiled
	if cr == nil { // not from Default or Load: nowhere to remember
		return rules.CompileAll(c.Rules)
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !cr.done || len(cr.snap) != len(c.Rules) || !reflect.DeepEqual(cr.snap, c.Rules) && len(c.Rules) > 0 {
		cr.out, cr.err = rules.CompileAll(c.Rules)
		cr.snap, cr.done = slices.Clone(c.Rules), true
	}
	return cr.out, cr.err
}

// AllContracts is the user's contracts followed by the presets when enabled.
func (c *Config) AllContracts() []codec.Contract {
	all := append([]codec.Contract(nil), c.Contracts...)
	if c.Presets == nil || *c.Presets {
		all = append(all, codec.Presets()...)
	}
	return all
}

// ParseLevel maps a level name to slog's.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("unknown level %q (want debug, info, warn or error)", s)
	}
	return l, nil
}
