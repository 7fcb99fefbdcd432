package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// PeerRun is the name of the runs through Mosquitto.
const PeerRun = "mosquitto"

// rulesPeerRun drives a bare Mosquitto with the runs' loads and probes, and
// times each probe from its publish to its arrival at a QoS 1 subscriber
// in the bench: the same trip as an alert's (load-sharing connection in,
// one hop out to the bench's process) with nothing decoded, evaluated,
// recorded or posted on the way. It is the floor that the alert latency
// under the same load is held against.
// With name MochiRun, the broker is a bare mochi-mqtt (startMochi) instead.
func rulesPeerRun(ctx context.Context, o RulesOptions, name string) (RulesRun, error) {
	run := RulesRun{Name: name}
	o.Log.Info("starting "+name, "run", name)
	var p *peer
	var err error
	if name == MochiRun {
		p, err = startMochi(ctx, o.EdgeBin) // Go sets TCP_NODELAY on every connection
	} else {
		// Without TCP_NODELAY, Mosquitto's write of a probe can wait
		// behind the subscriber's delayed ACK of the one before (Nagle):
		// 21 ms p99 in the idle phase, whose probes come every 10 ms.
		p, err = startMosquitto(ctx, "set_tcp_nodelay true")
	}
	if err != nil {
		return run, err
	}
	defer p.close()
	book := newArrivals()
	sub, err := subscribeProbes(p.addr, book)
	if err != nil {
		return run, err
	}
	defer sub.Disconnect(100)
	pr, err := newProber(p.addr, book, o.ProbeTimeout)
	if err != nil {
		return run, err
	}
	defer pr.close()
	if err := run.idleProbes(ctx, pr, o); err != nil {
		return run, err
	}
	paced := o.pacedLoad(p.addr)
	if run.Paced, _, err = loadWithProbes(ctx, paced, pr, &run, "paced", o); err != nil {
		return run, err
	}
	if err := run.saturate(ctx, paced, pr, o, p.pid()); err != nil {
		return run, err
	}
	run.PeakRSS, err = peakRSS(p.pid())
	if err != nil {
		run.Notes = append(run.Notes, err.Error())
	}
	return run, ctx.Err()
}

// subscribeProbes subscribes, at QoS 1, to the topics of the probe devices
// only (not to the load's), and files each probe reading in book as it
// arrives.
func subscribeProbes(broker string, book *arrivals) (mqtt.Client, error) {
	c, err := connectProbeClient(broker, "bench-probe-subscriber")
	if err != nil {
		return nil, err
	}
	filters := make(map[string]byte, probeDevices)
	for i := range probeDevices {
		filters[probeTopic(probeDevice(i))] = 1
	}
	tok := c.SubscribeMultiple(filters, func(_ mqtt.Client, m mqtt.Message) {
		at := time.Now()
		var r map[string]float64
		if err := json.Unmarshal(m.Payload(), &r); err == nil {
			book.arrived(r[probeMetric], at)
		}
	})
	if err := waitToken(tok, 10*time.Second); err != nil {
		c.Disconnect(100)
		return nil, fmt.Errorf("probe subscriber subscribe: %w", err)
	}
	return c, nil
}
