package edge

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/registry"
	"github.com/edgevault/edgevault/rules"
)

// openRules builds the rule service: config rules plus those made over the
// API (kept in the store), fed with every durable reading and with device
// presence, writing derived series back into the store.
func (n *Node) openRules(meta kv.Store, prom prometheus.Registerer) error {
	svc, err := rules.NewService(rules.ServiceOptions{
		Engine:     rules.Options{Logger: n.log.With("component", "rules"), Meta: n.deviceMeta},
		Store:      kv.WithPrefix(meta, "rules/"),
		Config:     n.cfg.Rules,
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

// appendDerived stores window results as series like any other.
func (n *Node) appendDerived(rs []point.Reading) error {
	res, err := n.db.Append(rs)
	if err != nil {
		return err
	}
	for _, r := range res.Rejected {
		n.log.Warn("derived point rejected", "err", r.Err)
	}
	if res.Stored > 0 && len(res.Rejected) == 0 {
		n.reg.Observe("rules", rs, "rules")
	}
	return nil
}

// onAlert receives alert transitions from the rule engine.
func (n *Node) onAlert(a rules.Alert) {
	n.log.Warn("alert", "rule", a.Rule, "key", a.Key, "device", a.Device, "severity", a.Severity,
		"state", a.State, "value", a.Value, "message", a.Message, "by", a.By)
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
