package edge

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/notify"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/registry"
	"github.com/edgevault/edgevault/routing"
	"github.com/edgevault/edgevault/rules"
	"github.com/edgevault/edgevault/store"
)

// openAnalytics builds what runs on the readings besides storing them:
// routing rules, the rule service (config rules plus those made over the
// API), the alert history and the notification channels.
func (n *Node) openAnalytics(meta kv.Store, prom prometheus.Registerer) error {
	var err error
	if n.router, err = routing.New(n.cfg.Routing, routing.Options{Registerer: prom, Logger: n.log.With("component", "routing")}); err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	n.fwd = newForwarder(n.publish, n.log.With("component", "forward"), prom)
	if n.alerts, err = alerts.New(n.metaFor("alerts/", batch.KindAlerts), alerts.Options{Registerer: prom, Logger: n.log}); err != nil {
		return fmt.Errorf("alert history: %w", err)
	}
	if n.notify, err = notify.New(n.cfg.Notify.Channels, notify.Options{
		Logger: n.log.With("component", "notify"), Registerer: prom, Publish: n.publish,
	}); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	compiled, err := n.cfg.CompiledRules() // by Validate already: not compiled again
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	svc, err := rules.NewService(rules.ServiceOptions{
		Engine:     rules.Options{Logger: n.log.With("component", "rules"), Meta: n.deviceMeta},
		Store:      n.metaFor("rules/", batch.KindRegistry),
		Config:     n.cfg.Rules,
		Compiled:   compiled,
		Append:     n.appendDerived,
		Alert:      n.onAlert,
		Registerer: prom,
	})
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	n.rules = svc
	n.reg.Subscribe(func(e registry.Event) {
		if e.Type == registry.EventOnline || e.Type == registry.EventOffline {
			svc.DeviceStatus(e.Device, e.Type == registry.EventOnline, e.At)
		}
	})
	return nil
}

// publish sends from the node itself through the embedded broker.
func (n *Node) publish(topic string, payload []byte, qos byte, retain bool) error {
	return n.mqtt.Publish(topic, payload, retain, qos)
}

// appendDerived stores window results as series like any other. It queues
// them for the store's group commit and returns: the rule service's
// delivery goroutine records and notifies alerts too, and an alert must not
// wait behind the commit of the points a minute's windows closed with.
// waitDerived waits for them, in order; past derivedQueue batches waiting,
// appendDerived waits too.
func (n *Node) appendDerived(rs []point.Reading) error {
	n.derived <- derivedBatch{rs, n.db.AppendAsync(rs)}
	return nil
}

// derivedQueue bounds the batches of derived points waiting for their
// commit (a batch is up to 1,024 points).
const derivedQueue = 64

type derivedBatch struct {
	rs      []point.Reading
	pending store.Pending
}

// waitDerived reports the outcome of each batch of derived points once it
// is durable, and tells the registry of them, until n.derived is closed.
func (n *Node) waitDerived(done chan<- struct{}) {
	defer close(done)
	for b := range n.derived {
		res, err := b.pending.Wait()
		if err != nil {
			n.log.Warn("derived points not stored", "points", len(b.rs), "err", err)
			continue
		}
		for _, r := range res.Rejected {
			n.log.Warn("derived point rejected", "err", r.Err)
		}
		if res.Stored > 0 && len(res.Rejected) == 0 {
			n.reg.Observe("rules", b.rs, "rules")
		}
	}
}

// onAlert keeps an alert transition in the history, then notifies; received
// is when the node received its cause.
func (n *Node) onAlert(a rules.Alert, received time.Time) {
	rec, err := n.alerts.Record(a)
	if err != nil {
		n.log.Error("alert not recorded", "rule", a.Rule, "key", a.Key, "state", a.State, "err", err)
		return
	}
	// Notify first: the log line is a write to stderr, which can block
	// behind a slow reader (a throttling journal).
	n.notify.NotifySince(rec, received)
	n.log.Info("alert", "id", rec.ID, "rule", a.Rule, "device", a.Device, "severity", a.Severity, "state", a.State, "value", a.Value)
}

// deviceMeta gives rules the registry's view of a device.
func (n *Node) deviceMeta(device string) map[string]any {
	d, ok := n.reg.Get(device)
	if !ok {
		return nil
	}
	m := make(map[string]any, len(d.Meta)+2)
	for k, v := range d.Meta {
		m[k] = v
	}
	m["name"], m["type"] = d.Name, d.Type
	return m
}

func (n *Node) deviceType(device string) string {
	d, _ := n.reg.Get(device)
	return d.Type
}

// alertDesk is the API's view of alerts: an acknowledgement or resolution
// by hand changes the history first, then the engine's state, whose echo of
// the transition then finds the record already changed.
type alertDesk struct{ n *Node }

func (d alertDesk) List(f alerts.Filter) ([]alerts.Alert, uint64, error) { return d.n.alerts.List(f) }
func (d alertDesk) Get(id uint64) (alerts.Alert, error)                  { return d.n.alerts.Get(id) }

func (d alertDesk) Ack(id uint64, by string) (alerts.Alert, error) {
	a, err := d.n.alerts.Ack(id, by)
	if err == nil {
		d.engineToo(d.n.rules.Engine().Ack(a.Rule, a.Key, by))
	}
	return a, err
}

func (d alertDesk) Resolve(id uint64, by string) (alerts.Alert, error) {
	a, err := d.n.alerts.Resolve(id, by)
	if err == nil {
		d.engineToo(d.n.rules.Engine().Resolve(a.Rule, a.Key, by))
	}
	return a, err
}

// engineToo logs an engine that disagrees; no active alert there is normal
// after a restart (the engine's state is in memory).
func (d alertDesk) engineToo(err error) {
	if err != nil && !errors.Is(err, rules.ErrNoAlert) {
		d.n.log.Warn("alert change not applied to the rule engine", "err", err)
	}
}
