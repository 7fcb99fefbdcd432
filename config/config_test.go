package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/rules"
)

func TestDefaultsRun(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if len(cfg.AllContracts()) == 0 {
		t.Fatal("defaults have no contracts: presets should be on")
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../examples/edge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Contracts[0].Name != "sim-env" || cfg.Store.FsyncInterval != time.Second {
		t.Fatalf("example not decoded as written: %+v", cfg)
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "colour: blue\n", "colour"},
		{"unknown nested key", "store:\n  fsynk: always\n", "fsynk"},
		{"bad fsync policy", "store:\n  fsync: sometimes\n", "store.fsync"},
		{"bad duration", "registry:\n  offline_after: soon\n", "soon"},
		{"negative offline", "registry:\n  offline_after: -1s\n", "registry.offline_after"},
		{"bad log level", "log:\n  level: loud\n", "log.level"},
		{"bad contract", "contracts:\n  - name: x\n    version: 1\n    topic: a/{device}\n    format: xml\n", "contracts"},
		{"bad mqtt limit", "mqtt:\n  limits:\n    max_packet_size: -5\n", "mqtt."},
		{"wrong type", "dead_letters:\n  max_entries: many\n", "max_entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edge.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestLoadKeepsDefaultsForUnsetKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.yaml")
	if err := os.WriteFile(path, []byte("store:\n  fsync: always\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Fsync != "always" || cfg.Store.CacheBytes != 16<<20 || cfg.HTTP.Addr != "127.0.0.1:8080" {
		t.Fatalf("unset keys lost their defaults: %+v", cfg)
	}
}

// TestRulesCompiledOnce checks that validating the same rules again, and
// asking for them compiled, reuses the compilation, and that a changed
// rule set is compiled again.
func TestRulesCompiledOnce(t *testing.T) {
	cfg := Default()
	cfg.Rules = []rules.Rule{
		{ID: "hot", Kind: rules.KindAlert, Match: rules.Match{Metric: "t"}, Cond: rules.Cond{Expr: "value > 30"}},
		{ID: "cold", Kind: rules.KindAlert, Match: rules.Match{Metric: "t"}, Cond: rules.Cond{Expr: "value < 0"}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	first, _ := cfg.CompiledRules()
	copied := cfg // as the node takes it
	if err := copied.Validate(); err != nil {
		t.Fatal(err)
	}
	again, err := copied.CompiledRules()
	if err != nil || len(again) != 2 || again[0] != first[0] || again[1] != first[1] {
		t.Fatalf("compiled again: %v %v", again, err)
	}
	copied.Rules[1].Cond.Expr = "value <"
	if err := copied.Validate(); err == nil || !strings.Contains(err.Error(), `rules: rule "cold"`) {
		t.Fatalf("changed rule not compiled again: %v", err)
	}
	copied.Rules = copied.Rules[:1]
	if err := copied.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, _ := copied.CompiledRules(); len(got) != 1 || got[0].Rule.ID != "hot" {
		t.Fatalf("compiled = %v", got)
	}
	var zero Config // not from Default: nothing remembered
	if got, err := zero.CompiledRules(); err != nil || len(got) != 0 {
		t.Fatalf("zero config: %v %v", got, err)
	}
}
