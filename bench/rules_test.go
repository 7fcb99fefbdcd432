package bench

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgevault/edgevault/config"
	"github.com/edgevault/edgevault/rules"
)

func TestRuleMix(t *testing.T) {
	rs := append(RuleMix(1000, 50, "bench", 10), probeRuleDef())
	if _, err := rules.CompileAll(rs); err != nil {
		t.Fatal(err)
	}
	c := mixCounts(rs)
	want := map[string]int{"threshold": 401, "expression": 200, "window_tumbling": 100, "window_hopping": 100,
		"pattern": 100, "trend": 50, "fluctuation": 50}
	for k, n := range want {
		if c[k] != n {
			t.Errorf("%s: %d rules, want %d (mix %v)", k, c[k], n, c)
		}
	}
	// 100 fleet-wide rules (20 per metric, pattern rules on two metrics)
	// plus 900 rules spread over 50 devices.
	if got := rulesPerReading(rs, 50, "bench"); got < 20 || got > 30 {
		t.Errorf("rules per reading %.1f, want 20..30", got)
	}
}

// TestEdgeConfigDecodes checks the generated file against the node's own
// strict config decoding and validation.
func TestEdgeConfigDecodes(t *testing.T) {
	conf, err := EdgeConfig{Rules: RuleMix(30, 5, "bench", 3), WebhookURL: "http://127.0.0.1:9/hook",
		HeartbeatInterval: 10 * time.Second, SimEnv: true}.YAML()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	if err := config.Decode(bytes.NewReader(conf), &cfg); err != nil {
		t.Fatalf("decode: %v\n%s", err, conf)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(cfg.Rules) != 30 || len(cfg.Notify.Channels) != 1 || !cfg.HTTP.Pprof || cfg.Gateway.HeartbeatInterval != 10*time.Second {
		t.Fatalf("config %+v", cfg)
	}
}

func TestParseMemStats(t *testing.T) {
	prof := "heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 123\n# HeapAlloc = 4096\n# HeapInuse = 8192\n"
	alloc, inuse, err := parseMemStats(strings.NewReader(prof))
	if err != nil || alloc != 4096 || inuse != 8192 {
		t.Fatalf("got %d, %d, %v", alloc, inuse, err)
	}
	if _, _, err := parseMemStats(strings.NewReader("# Alloc = 1\n")); err == nil {
		t.Fatal("no error without HeapAlloc")
	}
}

func TestSumMetric(t *testing.T) {
	text := `# HELP edgevault_rules_dropped_total x
edgevault_rules_dropped_total{stage="input"} 7
edgevault_rules_dropped_total{stage="output"} 2
edgevault_rules_dropped_totalx 100
edgevault_alerts_recorded_total{state="triggered"} 3
edgevault_alerts_recorded_total{state="resolved"} 1
`
	tests := []struct {
		name   string
		metric string
		labels []string
		want   float64
	}{
		{"one label", "edgevault_rules_dropped_total", []string{`stage="input"`}, 7},
		{"all series", "edgevault_alerts_recorded_total", nil, 4},
		{"absent", "edgevault_nothing", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sumMetric(strings.NewReader(text), tt.metric, tt.labels...)
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestRulesEdge runs the rules bench at tiny scale against the binary named
// by EDGEVAULT_BIN.
func TestRulesEdge(t *testing.T) {
	bin := os.Getenv("EDGEVAULT_BIN")
	if bin == "" {
		t.Skip("EDGEVAULT_BIN not set")
	}
	res, err := Rules(t.Context(), RulesOptions{Rules: 40, LoadRules: 100, Devices: 3, Duration: time.Second,
		PacedDuration: time.Second, PacedRate: 20, Probes: 10, EdgeBin: bin, MochiPeer: true})
	if err != nil {
		t.Fatal(err)
	}
	if names := runNames(res.Runs); !slices.Equal(names, []string{"baseline", "rules", PeerRun, MochiRun}) {
		t.Fatalf("runs %v", names)
	}
	if len(res.Runs) != 4 || res.Ratio <= 0 || len(res.RoundRatios) != 1 || res.RoundRatios[0] != res.Ratio || len(res.RoundCPU) != 1 || res.RoundCPU[0] <= 0 {
		t.Fatalf("runs %+v", res.Runs)
	}
	for _, r := range res.Runs {
		if r.Load.Acked == 0 || r.Paced.Acked == 0 || r.LoadCPU.Server <= 0 || r.LoadCPU.Load <= 0 {
			t.Errorf("%s run %+v", r.Name, r)
		}
		if r.Name != PeerRun && r.Name != MochiRun && (r.Heap.HeapAlloc == 0 || r.StartupMs <= 0) {
			t.Errorf("%s run %+v", r.Name, r)
		}
		if r.Name == "baseline" {
			continue
		}
		if len(r.Probes) != 3 || r.RuleErrors != 0 {
			t.Fatalf("%s run probes %+v, errors %d", r.Name, r.Probes, r.RuleErrors)
		}
		for _, p := range r.Probes {
			if p.Received == 0 || p.Received+p.Lost != p.Probes || p.P50Ms <= 0 || p.P99Ms < p.P50Ms {
				t.Errorf("%s run, %s probes %+v", r.Name, p.Phase, p)
			}
		}
	}
	if len(res.P99) != 3 || res.P99[2].Alert <= 0 || res.P99[2].Peer <= 0 || res.P99[2].Mochi <= 0 {
		t.Errorf("p99 by phase %+v", res.P99)
	}
	if c := res.EdgeCPU; c.Baseline <= 0 || c.Rules <= 0 || c.Load <= 0 {
		t.Errorf("CPU per message %+v", c)
	}
	if l := res.Load; l.Rules != 100 || l.StartupMs <= 0 || l.PutMs <= 0 || len(l.Notes) > 0 {
		t.Errorf("load run %+v", l)
	}
}

// TestHookReceiverReset: a run's probes count from 0 again, so the alerts
// of the run before must not stand in for theirs (a lost probe would be
// taken as received, with a negative latency).
func TestHookReceiverReset(t *testing.T) {
	h := newHookReceiver()
	defer h.close()
	post := func(body string) {
		t.Helper()
		resp, err := http.Post(h.url(), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post(fmt.Sprintf(`{"rule":%q,"state":"triggered","value":%d}`, ProbeRule, probeLimit+1))
	post(fmt.Sprintf(`{"rule":%q,"state":"resolved","value":0}`, ProbeRule))
	if at, resolved := h.collect(t.Context(), 0, 1, 0); at[0].IsZero() || resolved != 1 {
		t.Fatalf("before reset: %v, %d resolved", at, resolved)
	}
	h.reset()
	if at, resolved := h.collect(t.Context(), 0, 1, 0); !at[0].IsZero() || resolved != 0 {
		t.Fatalf("after reset: %v, %d resolved", at, resolved)
	}
}

func TestRoundRatios(t *testing.T) {
	run := func(name string, round int, rate float64) RulesRun {
		r := RulesRun{Name: name, Round: round}
		r.Load.MsgsPerSec = rate
		return r
	}
	runs := []RulesRun{run("baseline", 1, 100), run("rules", 1, 90), run(PeerRun, 1, 50),
		run("rules", 2, 120), run("baseline", 2, 100), run(PeerRun, 2, 50)}
	got := roundRatios(runs)
	if len(got) != 2 || got[0] != 0.9 || got[1] != 1.2 {
		t.Fatalf("round ratios %v, want [0.9 1.2]", got)
	}
}

func TestRoundCPU(t *testing.T) {
	run := func(name string, round int, server, load float64) RulesRun {
		return RulesRun{Name: name, Round: round, LoadCPU: CPUPerMsg{Server: server, Load: load}}
	}
	// Round 2's box is 20 % slower in both runs: the same cost of the rules.
	runs := []RulesRun{run("baseline", 1, 16, 20), run("rules", 1, 18, 20), run(PeerRun, 1, 5, 20),
		run("rules", 2, 21.6, 24), run("baseline", 2, 19.2, 24), run("baseline", 3, 16, 0)}
	got := roundCPU(runs)
	if len(got) != 2 || math.Abs(got[0]-1.125) > 1e-9 || math.Abs(got[1]-1.125) > 1e-9 {
		t.Fatalf("round CPU ratios %v, want [1.125 1.125]", got)
	}
}

// stuckToken is an MQTT token that never completes.
type stuckToken struct{}

func (stuckToken) Wait() bool                     { select {} }
func (stuckToken) WaitTimeout(time.Duration) bool { return false }
func (stuckToken) Done() <-chan struct{}          { return make(chan struct{}) }
func (stuckToken) Error() error                   { return nil }

func TestWaitTokenTimeoutIsAnError(t *testing.T) {
	if err := waitToken(stuckToken{}, time.Millisecond); err == nil || !strings.Contains(err.Error(), "no answer within 1ms") {
		t.Fatalf("err = %v", err)
	}
}

func runNames(runs []RulesRun) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Name)
	}
	return out
}

// TestMochiPeerBadListen: the peer refuses an address it cannot listen on
// with the reason, and exits.
func TestMochiPeerBadListen(t *testing.T) {
	for _, addr := range []string{"nope", "127.0.0.1:99999"} {
		var stdout, stderr bytes.Buffer
		if code := Command([]string{"mochi-peer", "--listen", addr}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "bench mochi-peer:") {
			t.Errorf("--listen %s: code %d, stderr %q", addr, code, stderr.String())
		}
	}
}
