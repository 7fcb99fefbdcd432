package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgevault/edgevault/sim"
)

// PeerRun is the name of the runs through Mosquitto.
const PeerRun = "mosquitto"

// rulesPeerRun drives a bare Mosquitto with the runs' loads and probes, and
// times each probe from its publish to its arrival at a QoS 1 subscriber
// in the bench: the same trip as an alert's (load-sharing connection in,
// one hop out to the bench's process) with nothing decoded, evaluated,
// recorded or posted on the way. It is the floor that the alert latency
// under the same load is held against.
func rulesPeerRun(ctx context.Context, o RulesOptions) (RulesRun, error) {
	run := RulesRun{Name: PeerRun}
	o.Log.Info("starting mosquitto", "run", PeerRun)
	// Without TCP_NODELAY, Mosquitto's write of a probe can wait behind
	// the subscriber's delayed ACK of the one before (Nagle): 21 ms p99 in
	// the idle phase, whose probes come every 10 ms.
	p, err := startMosquitto(ctx, "set_tcp_nodelay true")
	if err != nil {
		return run, err
	}
	defer p.close()
	hook := newHookReceiver() // its arrival book; the HTTP side stays unused
	defer hook.close()
	sub, err := subscribeProbes(p.addr, hook)
	if err != nil {
		return run, err
	}
	defer sub.Disconnect(100)
	pr, err := newProber(p.addr, hook, o.ProbeTimeout)
	if err != nil {
		return run, err
	}
	defer pr.close()
	idle := make(chan struct{})
	close(idle)
	res, err := pr.run(ctx, "idle", o.Probes, 10*time.Millisecond, idle)
	if err != nil {
		return run, fmt.Errorf("idle probes: %w", err)
	}
	run.Probes = append(run.Probes, res)
	paced := sim.Options{Broker: p.addr, Devices: o.Devices, Rate: o.PacedRate, Duration: o.PacedDuration,
		Format: sim.FormatJSON, QoS: 1, Inflight: o.Inflight, Prefix: "bench", Seed: 1}
	if run.Paced, _, err = loadWithProbes(ctx, paced, pr, &run, "paced", o); err != nil {
		return run, err
	}
	sat := paced
	sat.Rate, sat.Duration = 0, o.Duration
	cpu0, cpuErr := cpuSeconds(p.pid())
	var loadCPU time.Duration
	if run.Load, loadCPU, err = loadWithProbes(ctx, sat, pr, &run, "saturating", o); err != nil {
		return run, err
	}
	cpu1, err := cpuSeconds(p.pid())
	if err = errors.Join(cpuErr, err); err != nil {
		run.Notes = append(run.Notes, err.Error())
	} else if n := float64(run.Load.Acked); n > 0 {
		run.LoadCPU = CPUPerMsg{Edge: (cpu1 - cpu0) * 1e6 / n, Load: float64(loadCPU.Microseconds()) / n}
	}
	run.PeakRSS, err = peakRSS(p.pid())
	if err != nil {
		run.Notes = append(run.Notes, err.Error())
	}
	return run, ctx.Err()
}

// subscribeProbes subscribes, at QoS 1, to the topics of the probe devices
// only (not to the load's), and files each probe reading in hook as it
// arrives.
func subscribeProbes(broker string, hook *hookReceiver) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("bench-probe-subscriber").
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
		SetOrderMatters(false)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("probe subscriber connect: %v", tok.Error())
	}
	filters := make(map[string]byte, probeDevices)
	for i := range probeDevices {
		filters[probeTopic(probeDevice(i))] = 1
	}
	tok := c.SubscribeMultiple(filters, func(_ mqtt.Client, m mqtt.Message) {
		at := time.Now()
		var r map[string]float64
		if err := json.Unmarshal(m.Payload(), &r); err == nil {
			hook.arrived(r[probeMetric], at)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		c.Disconnect(100)
		return nil, fmt.Errorf("probe subscriber subscribe: %v", tok.Error())
	}
	return c, nil
}
