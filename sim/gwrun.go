package sim

import (
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/edgevault/edgevault/gateway"
)

// run reports every Interval until prod ends or Count reports are made,
// then drains: it keeps handling acks, resends and commands until every
// report is acknowledged or Drain passes.
func (g *simGateway) run(prod context.Context) {
	defer g.close()
	tick := time.NewTicker(g.opts.Interval)
	defer tick.Stop()
	resend := time.NewTicker(max(g.opts.AckTimeout/4, 5*time.Millisecond))
	defer resend.Stop()
	prodDone, tickC := prod.Done(), tick.C
	var drain <-chan time.Time
	stopProducing := func() {
		prodDone, tickC = nil, nil
		drain = time.After(g.opts.Drain)
	}
	g.tick()
	for {
		if g.opts.Count > 0 && g.next >= g.opts.Count && tickC != nil {
			stopProducing()
		}
		if drain != nil && len(g.outbox) == 0 {
			return
		}
		select {
		case <-prodDone:
			stopProducing()
		case <-tickC:
			g.tick()
		case m := <-g.inbox:
			g.handle(m)
		case <-resend.C:
			g.resendDue()
		case <-g.redialC():
			g.reconnect()
		case <-drain:
			return
		}
	}
}

// tick makes the next report and sends it when MaxInFlight allows, or
// buffers it while disconnected; the flaky link may drop the connection
// first.
func (g *simGateway) tick() {
	if f := g.opts.Flaky; g.client != nil && f.Disconnect > 0 && g.rng.Float64() < f.Disconnect {
		g.log.Debug("sim gateway: flaky disconnect", "down", f.Down)
		g.disconnected(f.Down)
	}
	r := g.makeReport()
	g.st.reports++
	if len(g.outbox) >= g.opts.Buffer {
		g.drop(0)
		g.st.overflow++
	}
	g.outbox = append(g.outbox, r)
	if g.client == nil {
		g.st.buffered++
		return
	}
	g.fill()
	if !r.inFlight {
		r.held = true
		g.st.held++
	}
}

// drop removes outbox[i], acknowledged or overflowed.
func (g *simGateway) drop(i int) *outReport {
	r := g.outbox[i]
	if r.inFlight {
		g.inFlight--
	}
	g.outbox = slices.Delete(g.outbox, i, i+1)
	return r
}

// fill sends the oldest reports not in flight while MaxInFlight allows.
func (g *simGateway) fill() {
	if g.client == nil {
		return
	}
	for _, r := range g.outbox {
		if g.opts.MaxInFlight > 0 && g.inFlight >= g.opts.MaxInFlight {
			return
		}
		if !r.inFlight {
			g.send(r)
		}
	}
}

// makeReport builds the group envelope of every sensor's next frame.
func (g *simGateway) makeReport() *outReport {
	k := g.next
	g.next++
	now := g.opts.Now()
	ts := now.UnixMilli()
	if g.opts.Start != 0 {
		ts = g.opts.Start + int64(k)*g.opts.Step
	}
	data := make([]byte, 0, 8*len(g.walkers))
	frames := make([]gateway.Frame, len(g.walkers))
	for i, w := range g.walkers {
		s := w.next()
		g.latest[i] = s
		data = appendBinary(data, s)
		frames[i] = gateway.Frame{Sensor: g.sensors[i], Contract: ContractSimEnv, Data: data[len(data)-8:]}
	}
	id := strconv.Itoa(k)
	env := gateway.Envelope{Type: gateway.TypeGroup, ID: id, Time: ts, Frames: frames}
	return &outReport{id: id, payload: g.encode(env), created: now}
}

// send publishes a report, first time or again with the same id, and
// schedules its next resend.
func (g *simGateway) send(r *outReport) {
	if r.sends == 0 {
		g.st.sent++
	} else {
		g.st.resent++
	}
	r.sends++
	r.lastSent = g.opts.Now()
	r.due = r.lastSent.Add(g.resendWait(r.sends))
	if !r.inFlight {
		r.inFlight = true
		g.inFlight++
	}
	g.publish(r.payload)
}

// resendWait is how long a report sent n times (n >= 1) waits for its ack
// before the next send: AckTimeout doubled for every send after the first,
// capped at MaxBackoff, less up to Jitter of it at random.
func (g *simGateway) resendWait(n int) time.Duration {
	d := g.opts.AckTimeout
	for i := 1; i < n && d < g.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, g.opts.MaxBackoff)
	if j := g.opts.Jitter; j > 0 {
		d -= time.Duration(j * g.jit.Float64() * float64(d))
	}
	return d
}

// resendDue resends the reports in flight whose ack is overdue, oldest
// first.
func (g *simGateway) resendDue() {
	if g.client == nil {
		return
	}
	now := g.opts.Now()
	for _, r := range g.outbox {
		if r.inFlight && !now.Before(r.due) {
			g.send(r)
		}
	}
}

// handle processes one event of the current connection.
func (g *simGateway) handle(m inMsg) {
	if m.gen != g.gen {
		return
	}
	if m.lost {
		g.log.Debug("sim gateway: connection lost")
		g.disconnected(g.opts.ReconnectDelay)
		return
	}
	env, err := gateway.DecodeEnvelope(m.payload)
	if err != nil {
		g.log.Warn("sim gateway: bad down envelope", "err", err)
		return
	}
	switch env.Type {
	case gateway.TypeAck:
		g.acked(env.ID)
	case gateway.TypeHeartbeat:
		g.st.hbIn++
		g.heartbeat(env.ID)
	case gateway.TypeCommand:
		g.command(env)
	default:
		g.log.Debug("sim gateway: unexpected down envelope", "type", env.Type)
	}
}

// acked removes an acknowledged report; an ack of an unknown id (a second
// ack of a resent report) changes nothing.
func (g *simGateway) acked(id string) {
	i := slices.IndexFunc(g.outbox, func(r *outReport) bool { return r.id == id })
	if i < 0 {
		return
	}
	r := g.drop(i)
	g.st.acked++
	g.st.lat = append(g.st.lat, g.opts.Now().Sub(r.created))
	g.fill()
}

// command acks at once, executes a command id once, and answers with the
// result (again for a resend). With NeverAck it does nothing at all.
func (g *simGateway) command(env gateway.Envelope) {
	g.st.commands++
	if g.opts.NeverAck {
		return
	}
	g.publish(g.encode(gateway.Envelope{Type: gateway.TypeCommandAck, ID: env.ID, Time: g.opts.Now().UnixMilli()}))
	res, seen := g.executed[env.ID]
	if seen {
		g.st.duplicates++
	} else {
		res = g.execute(env)
		g.st.executed++
		g.remember(env.ID, res)
	}
	g.publish(g.encode(gateway.Envelope{Type: gateway.TypeCommandResult, ID: env.ID,
		Time: g.opts.Now().UnixMilli(), OK: true, Result: res}))
}

// execute runs a command: every command reports its name and time; status
// also reports the latest values of the gateway's sensors (only the one
// named by the command's device, when it is one of them).
func (g *simGateway) execute(env gateway.Envelope) map[string]any {
	res := map[string]any{"name": env.Name, "executed_at": g.opts.Now().UnixMilli()}
	if env.Name != gateway.CommandStatus {
		return res
	}
	sensors := map[string]any{}
	for i, id := range g.sensors {
		if env.Device == "" || env.Device == g.id || env.Device == id {
			sensors[id] = sampleValues(g.latest[i])
		}
	}
	res["sensors"] = sensors
	return res
}

func (g *simGateway) remember(id string, res map[string]any) {
	if len(g.execOrder) >= maxExecuted {
		delete(g.executed, g.execOrder[0])
		g.execOrder = g.execOrder[1:]
	}
	g.executed[id] = res
	g.execOrder = append(g.execOrder, id)
}

// sampleValues is what the sim-env contract decodes from s's frame.
func sampleValues(s Sample) map[string]any {
	return map[string]any{
		"temperature": float64(int16(math.Round(s.Temperature*100))) / 100,
		"humidity":    float64(uint16(math.Round(s.Humidity*100))) / 100,
		"battery":     s.Battery,
		"motion":      s.Motion,
		"co2":         s.CO2,
	}
}
