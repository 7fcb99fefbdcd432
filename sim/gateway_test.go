package sim

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/edgevault/edgevault/gateway"
)

const testStart = int64(1_700_000_000_000)

func gwTestOpts(p *platform) GatewayOptions {
	return GatewayOptions{
		Broker: p.addr, Interval: 20 * time.Millisecond, AckTimeout: 400 * time.Millisecond,
		Drain: 8 * time.Second, ReconnectDelay: 50 * time.Millisecond, Seed: 7,
		Start: testStart, Step: 1000, Logger: discardLogger(),
	}
}

// runInBackground starts RunGateways; stop cancels it and returns its report.
func runInBackground(t *testing.T, o GatewayOptions) (stop func() GatewayReport) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		rep GatewayReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := RunGateways(ctx, o)
		done <- result{rep, err}
	}()
	t.Cleanup(cancel)
	return func() GatewayReport {
		cancel()
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.rep
	}
}

// expectedPoints is every point gateways x sensors x count reports store:
// "device metric ts" -> value, from the same random walks the sim uses.
func expectedPoints(o GatewayOptions, count int) map[string]float64 {
	o, _ = o.withDefaults()
	want := map[string]float64{}
	for i := range o.Gateways {
		for k := range o.Sensors {
			w := newWalker(o.Seed, i*o.Sensors+k)
			dev := SensorID(o.GatewayID(i), k)
			for j := range count {
				ts := strconv.FormatInt(o.Start+int64(j)*o.Step, 10)
				for m, v := range sampleValues(w.next()) {
					switch v := v.(type) {
					case float64:
						want[dev+" "+m+" "+ts] = v
					case int:
						want[dev+" "+m+" "+ts] = float64(v)
					case bool:
						want[dev+" "+m+" "+ts] = map[bool]float64{false: 0, true: 1}[v]
					}
				}
			}
		}
	}
	return want
}

// samePoints compares stored points with expected ones, allowing for the
// contract's scale (raw x 0.01 is not exactly raw / 100).
func samePoints(got, want map[string]float64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok || math.Abs(g-v) > 1e-9 {
			return false
		}
	}
	return true
}

func TestRunGatewaysStoresEveryReading(t *testing.T) {
	for _, tc := range []struct {
		name   string
		binary bool
	}{{"json", false}, {"binary", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPlatform(t)
			o := gwTestOpts(p)
			o.Gateways, o.Sensors, o.Count, o.Binary = 2, 3, 5, tc.binary
			rep, err := RunGateways(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Reports != 10 || rep.Sent != 10 || rep.Acked != 10 || rep.Resent != 0 || rep.Unacked != 0 {
				t.Errorf("report %+v: want 10 reports sent and acked once each", rep)
			}
			if rep.PointsAcked != 150 || rep.P50Ms <= 0 || rep.P99Ms < rep.P50Ms {
				t.Errorf("points %d p50 %v p99 %v", rep.PointsAcked, rep.P50Ms, rep.P99Ms)
			}
			if got, want := p.storedPoints(), expectedPoints(o, 5); !samePoints(got, want) {
				t.Errorf("stored %d points, want %d", len(got), len(want))
			}
			for i := range 2 {
				gw := o.GatewayID(i)
				groups := p.received(gw, gateway.TypeGroup)
				if got := ids(groups); !slices.Equal(got, []string{"0", "1", "2", "3", "4"}) {
					t.Errorf("%s: group ids %v", gw, got)
				}
				for _, g := range groups {
					if g.Binary != tc.binary || len(g.Frames) != 3 || g.Frames[2].Sensor != gw+"-s2" || g.Frames[0].Contract != "sim-env" {
						t.Errorf("%s: group %s: binary %v frames %+v", gw, g.ID, g.Binary, g.Frames)
					}
				}
				if len(p.received(gw, gateway.TypeHeartbeat)) != 1 {
					t.Errorf("%s: want one heartbeat on connect", gw)
				}
			}
		})
	}
}

func TestGatewayResendsUnackedWithSameID(t *testing.T) {
	p := startPlatform(t)
	o := gwTestOpts(p)
	o.Count = 4
	gw := o.GatewayID(0)
	p.leaveUnacked(gw, "1", 1)
	p.leaveUnacked(gw, "3", 2)
	rep, err := RunGateways(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range map[string]int{"0": 1, "1": 2, "2": 1, "3": 3} {
		d := p.deliveries(gw, id)
		if len(d) != n {
			t.Errorf("report %s delivered %d times, want %d", id, len(d), n)
		}
		for _, again := range d[1:] {
			if string(again) != string(d[0]) {
				t.Errorf("report %s resent with another payload", id)
			}
		}
	}
	if rep.Resent != 3 || rep.Acked != 4 || rep.Unacked != 0 {
		t.Errorf("resent %d acked %d unacked %d, want 3 4 0", rep.Resent, rep.Acked, rep.Unacked)
	}
	if len(p.storedPoints()) != 4*5 {
		t.Errorf("stored %d points, want 20 (resends overwrite)", len(p.storedPoints()))
	}
}

func TestGatewayBuffersAcrossDisconnect(t *testing.T) {
	p := startPlatform(t)
	o := gwTestOpts(p)
	o.Count, o.ReconnectDelay = 40, 300*time.Millisecond
	gw := o.GatewayID(0)
	done := make(chan GatewayReport, 1)
	go func() {
		rep, err := RunGateways(context.Background(), o)
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	eventually(t, "3 reports", func() bool { return len(p.received(gw, gateway.TypeGroup)) >= 3 })
	p.kick(t, gw)
	rep := <-done
	if rep.Disconnects != 1 || rep.Reconnects != 1 || rep.Buffered < 5 {
		t.Errorf("disconnects %d reconnects %d buffered %d, want 1 1 >=5", rep.Disconnects, rep.Reconnects, rep.Buffered)
	}
	if rep.Acked != 40 || rep.Unacked != 0 || rep.Overflow != 0 || rep.HeartbeatsOut != 2 {
		t.Errorf("report %+v: want 40 acked, a heartbeat per connect", rep)
	}
	if got, want := p.storedPoints(), expectedPoints(o, 40); !samePoints(got, want) {
		t.Errorf("stored %d points, want the %d of 40 reports", len(got), len(want))
	}
}

func TestGatewayBufferOverflowDropsOldest(t *testing.T) {
	p := startPlatform(t)
	o := gwTestOpts(p)
	o.Count, o.Buffer, o.Drain = 6, 2, 300*time.Millisecond
	for k := range 6 {
		p.leaveUnacked(o.GatewayID(0), strconv.Itoa(k), 1000)
	}
	rep, err := RunGateways(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Overflow != 4 || rep.Unacked != 2 || rep.Acked != 0 {
		t.Errorf("overflow %d unacked %d acked %d, want 4 2 0", rep.Overflow, rep.Unacked, rep.Acked)
	}
}

func TestGatewayFlakyLinkStillDeliversEverything(t *testing.T) {
	p := startPlatform(t)
	o := gwTestOpts(p)
	o.Gateways, o.Sensors, o.Count, o.AckTimeout = 2, 2, 30, 150*time.Millisecond
	o.Flaky = Flaky{Drop: 0.2, Delay: 0.3, MaxDelay: 20 * time.Millisecond, Disconnect: 0.05, Down: 60 * time.Millisecond}
	rep, err := RunGateways(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked != 60 || rep.Unacked != 0 || rep.Dropped == 0 || rep.Delayed == 0 || rep.Resent == 0 {
		t.Errorf("report %+v: want all 60 acked despite drops, delays and resends", rep)
	}
	if got, want := p.storedPoints(), expectedPoints(o, 30); !samePoints(got, want) {
		t.Errorf("stored %d points, want %d", len(got), len(want))
	}
}

func TestGatewayOptionsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   GatewayOptions
		ok   bool
	}{
		{"defaults", GatewayOptions{Broker: "x:1"}, true},
		{"no broker", GatewayOptions{}, false},
		{"too many sensors", GatewayOptions{Broker: "x:1", Sensors: gateway.MaxItems + 1}, false},
		{"negative count", GatewayOptions{Broker: "x:1", Count: -1}, false},
		{"drop above one", GatewayOptions{Broker: "x:1", Flaky: Flaky{Drop: 1.5}}, false},
		{"prefix with slash", GatewayOptions{Broker: "x:1", Prefix: "a/b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.in.withDefaults()
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (o.Gateways != 1 || o.Sensors != 1 || o.Interval != time.Second || o.Step != 1000 || o.GatewayID(0) != "gw-0000") {
				t.Errorf("defaults %+v", o)
			}
		})
	}
}

func BenchmarkGatewayReport(b *testing.B) {
	for _, binary := range []bool{false, true} {
		b.Run(fmt.Sprintf("20sensors/binary=%v", binary), func(b *testing.B) {
			o, _ := GatewayOptions{Broker: "x:1", Sensors: 20, Binary: binary}.withDefaults()
			g := newSimGateway(o, 0)
			b.ReportAllocs()
			for b.Loop() {
				r := g.makeReport()
				b.SetBytes(int64(len(r.payload)))
			}
		})
	}
}

func TestGatewayResendBackoff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter float64
		want   []time.Duration // waits after send 1, 2, ...
	}{
		{"doubles up to the cap", -1, []time.Duration{100, 200, 400, 800, 800, 800}},
		{"jitter only shortens", 0.5, []time.Duration{100, 200, 400, 800, 800, 800}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := GatewayOptions{Broker: "x:1", AckTimeout: 100 * time.Millisecond, MaxBackoff: 800 * time.Millisecond,
				Jitter: tc.jitter}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			g := newSimGateway(o, 0)
			for n, want := range tc.want {
				want *= time.Millisecond
				got := g.resendWait(n + 1)
				if lo := want - time.Duration(max(tc.jitter, 0)*float64(want)); got < lo || got > want {
					t.Errorf("wait after send %d: %v, want within [%v, %v]", n+1, got, lo, want)
				}
			}
		})
	}
}

// TestGatewayBoundsReportsInFlight: a platform that acks nothing sees at
// most MaxInFlight distinct reports and spaced resends, not every report
// resent every ack timeout.
func TestGatewayBoundsReportsInFlight(t *testing.T) {
	p := startPlatform(t)
	o := gwTestOpts(p)
	o.Count, o.MaxInFlight, o.AckTimeout, o.Drain = 20, 3, 100*time.Millisecond, 600*time.Millisecond
	gw := o.GatewayID(0)
	for k := range o.Count {
		p.leaveUnacked(gw, strconv.Itoa(k), 1000)
	}
	rep, err := RunGateways(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range p.received(gw, gateway.TypeGroup) {
		seen[e.ID] = true
	}
	if len(seen) != 3 || !seen["0"] || !seen["1"] || !seen["2"] {
		t.Errorf("platform saw reports %v, want only the first 3", slices.Sorted(maps.Keys(seen)))
	}
	if rep.Sent != 3 || rep.Held != 17 || rep.Unacked != 20 {
		t.Errorf("sent %d held %d unacked %d, want 3 17 20", rep.Sent, rep.Held, rep.Unacked)
	}
	// About 1 s of reporting and draining: without backoff each of the 3
	// would be resent every 100 ms (about 30 resends); with it at most 4
	// each (100, 200, 400, 800 ms).
	if rep.Resent == 0 || rep.Resent > 12 {
		t.Errorf("resent %d, want 1..12 with exponential backoff", rep.Resent)
	}
}

// TestGatewayInFlightSlotsRefillOnAck: held reports go out as acks come in.
func TestGatewayInFlightSlotsRefillOnAck(t *testing.T) {
	p := startPlatform(t)
	o := gwTestOpts(p)
	o.Count, o.MaxInFlight, o.Interval = 30, 2, 2*time.Millisecond
	rep, err := RunGateways(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked != 30 || rep.Unacked != 0 || rep.Resent != 0 {
		t.Errorf("report %+v: want 30 acked, none resent", rep)
	}
	if got, want := p.storedPoints(), expectedPoints(o, 30); !samePoints(got, want) {
		t.Errorf("stored %d points, want %d", len(got), len(want))
	}
}
