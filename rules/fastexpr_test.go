package rules

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/edgevault/edgevault/point"
)

// vmBool evaluates p on the expr VM the way the engine does for a reading.
func vmBool(t testing.TB, p *vm.Program, v float64, device, metric string) bool {
	t.Helper()
	got, err := New(Options{}).evalBool(&boolExpr{prog: p}, &point.Reading{Device: device, Metric: metric}, v)
	if err != nil {
		t.Fatalf("%s: %v", p.Source().String(), err)
	}
	return got
}

func TestFastExprForms(t *testing.T) {
	for _, tt := range []struct {
		src  string
		fast bool
	}{
		{`value > 42`, true},
		{`value > 42 || value < -96`, true},
		{`value < 5 && device != "spare"`, true},
		{`not (value >= 1.5) and metric == "co2"`, true},
		{`"kitchen" == device`, true},
		{`10 <= value`, true},
		{`true`, true},
		{`value > 1 + 2`, true}, // folded by expr's optimizer
		{`value > latest(device, "t")`, false},
		{`tags["room"] == "k"`, false},
		{`device < "m"`, false},
		{`value > 1 && meta.type == "x"`, false},
		{`text == "on"`, false},
		{`let x = value; x > 0`, false},
	} {
		p, err := compileExpr("r", "condition", tt.src, resultBool)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if got := fastFor(p) != nil; got != tt.fast {
			t.Errorf("%s: fast %v, want %v", tt.src, got, tt.fast)
		}
	}
}

// TestFastExprMatchesVM compares the closures with the VM on random
// expressions over value, device and metric, at values that sit on, near
// and far from the literals, and at NaN and the infinities.
func TestFastExprMatchesVM(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	lits := []string{"0", "5", "-3", "2.5", "-0.5", "1e3", "42"}
	names := []string{`"a"`, `"b"`, `"spare"`}
	var gen func(depth int) string
	gen = func(depth int) string {
		if depth > 0 && rng.IntN(3) > 0 {
			a, b := gen(depth-1), gen(depth-1)
			switch rng.IntN(5) {
			case 0:
				return "(" + a + " && " + b + ")"
			case 1:
				return "(" + a + " and " + b + ")"
			case 2:
				return "(" + a + " || " + b + ")"
			case 3:
				return "(" + a + " or " + b + ")"
			}
			return "!(" + a + ")"
		}
		ops := []string{">", "<", ">=", "<=", "==", "!="}
		switch rng.IntN(5) {
		case 0:
			return "value " + ops[rng.IntN(6)] + " " + lits[rng.IntN(len(lits))]
		case 1:
			return lits[rng.IntN(len(lits))] + " " + ops[rng.IntN(6)] + " value"
		case 2:
			return "device " + ops[4+rng.IntN(2)] + " " + names[rng.IntN(len(names))]
		case 3:
			return names[rng.IntN(len(names))] + " " + ops[4+rng.IntN(2)] + " metric"
		}
		return []string{"true", "false"}[rng.IntN(2)]
	}
	values := []float64{0, math.Copysign(0, -1), 5, -3, 2.5, -0.5, 1000, 42, 4.999, 42.0001, -1e9, math.NaN(), math.Inf(1), math.Inf(-1)}
	devices := []string{"a", "b", "spare", ""}
	checked := 0
	for range 400 {
		src := gen(3)
		p, err := compileExpr("r", "condition", src, resultBool)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		fast := fastFor(p)
		if fast == nil {
			t.Fatalf("%s: not compiled to closures", src)
		}
		for _, v := range values {
			for _, d := range devices {
				m := devices[rng.IntN(len(devices))]
				if got, want := fast(v, d, m), vmBool(t, p, v, d, m); got != want {
					t.Fatalf("%s with value=%v device=%q metric=%q: closures %v, VM %v", src, v, d, m, got, want)
				}
				checked++
			}
		}
	}
	t.Logf("%d evaluations agree", checked)
}

// FuzzFastExpr: whatever compiles to closures answers as the VM does.
func FuzzFastExpr(f *testing.F) {
	f.Add(`value > 42 || value < -96`, 42.0, "a", "m")
	f.Add(`!(device == "spare") && 3 >= value`, math.NaN(), "spare", "")
	f.Add(`value != -0.5 or metric != "co2"`, -0.5, "", "co2")
	f.Fuzz(func(t *testing.T, src string, v float64, device, metric string) {
		if len(src) > 512 || strings.Contains(src, "latest") {
			return
		}
		p, err := compileExpr("r", "condition", src, resultBool)
		if err != nil {
			return
		}
		fast := fastFor(p)
		if fast == nil {
			return
		}
		if got, want := fast(v, device, metric), vmBool(t, p, v, device, metric); got != want {
			t.Fatalf("%s with value=%v device=%q metric=%q: closures %v, VM %v", src, v, device, metric, got, want)
		}
	})
}
