package broker

import "github.com/prometheus/client_golang/prometheus"

// metric is one series the collector exports from a Stats snapshot.
type metric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(Stats) int64
}

// newMetric describes edgevault_mqtt_<name>; label, when given, is one
// name/value pair.
func newMetric(name, help string, typ prometheus.ValueType, v func(Stats) int64, label ...string) metric {
	var constLabels prometheus.Labels
	if len(label) == 2 {
		constLabels = prometheus.Labels{label[0]: label[1]}
	}
	return metric{desc: prometheus.NewDesc("edgevault_mqtt_"+name, help, nil, constLabels), typ: typ, value: v}
}

var (
	gauge   = prometheus.GaugeValue
	counter = prometheus.CounterValue
)

const refusedHelp = "Connections refused, by reason: pending_limit (max_pending_connections), " +
	"max_clients, not_authorized, invalid_connect (protocol checks), no_connect (closed before a valid CONNECT)."

// metrics are the broker's series. One Desc per (name, label value): the
// values come from one Stats snapshot per scrape, so a const label per
// series is simpler than a vector.
var metrics = []metric{
	newMetric("clients", "Connected, authenticated MQTT clients.", gauge, func(s Stats) int64 { return s.Clients }),
	newMetric("pending_connections", "Connections not yet authenticated.", gauge,
		func(s Stats) int64 { return s.PendingConnections }),
	newMetric("connections_refused_total", refusedHelp, counter,
		func(s Stats) int64 { return s.RefusedConnections }, "reason", "pending_limit"),
	newMetric("connections_refused_total", refusedHelp, counter,
		func(s Stats) int64 { return s.RefusedMaxClients }, "reason", "max_clients"),
	newMetric("connections_refused_total", refusedHelp, counter,
		func(s Stats) int64 { return s.RefusedAuth }, "reason", "not_authorized"),
	newMetric("connections_refused_total", refusedHelp, counter,
		func(s Stats) int64 { return s.RefusedInvalid }, "reason", "invalid_connect"),
	newMetric("connections_refused_total", refusedHelp, counter,
		func(s Stats) int64 { return s.NoConnect }, "reason", "no_connect"),
	newMetric("packets_too_large_total", "Packets over max_packet_size; each closed its connection.", counter,
		func(s Stats) int64 { return s.PacketsTooLarge }),
	newMetric("publishes_rejected_total", "Publishes not acknowledged because they could not be made durable.",
		counter, func(s Stats) int64 { return s.Rejected }),
	newMetric("panics_recovered_total", "Connections closed after a recovered panic.", counter,
		func(s Stats) int64 { return s.Panics }),
	newMetric("acl_denied_total", "Actions the ACL refused, by access (read: subscribe or delivery, write: publish).",
		counter, func(s Stats) int64 { return s.ACLDeniedRead }, "access", "read"),
	newMetric("acl_denied_total", "Actions the ACL refused, by access (read: subscribe or delivery, write: publish).",
		counter, func(s Stats) int64 { return s.ACLDeniedWrite }, "access", "write"),
	newMetric("retained_messages", "Retained messages held.", gauge, func(s Stats) int64 { return s.Retained }),
	newMetric("inflight_messages", "QoS 1/2 messages awaiting a client's acknowledgement.", gauge,
		func(s Stats) int64 { return s.Inflight }),
	newMetric("subscriptions", "Subscriptions held, offline persistent sessions included.", gauge,
		func(s Stats) int64 { return s.Subscriptions }),
	newMetric("messages_received_total", "PUBLISH packets received.", counter,
		func(s Stats) int64 { return s.MessagesReceived }),
	newMetric("messages_sent_total", "PUBLISH packets sent.", counter, func(s Stats) int64 { return s.MessagesSent }),
	newMetric("messages_dropped_total", "Messages not delivered to a subscriber, by limit reached.", counter,
		func(s Stats) int64 { return s.MessagesDropped }, "limit", "max_pending_writes"),
	newMetric("messages_dropped_total", "Messages not delivered to a subscriber, by limit reached.", counter,
		func(s Stats) int64 { return s.InflightDropped }, "limit", "max_inflight"),
	newMetric("received_bytes_total", "Bytes received from clients.", counter,
		func(s Stats) int64 { return s.BytesReceived }),
	newMetric("sent_bytes_total", "Bytes sent to clients.", counter, func(s Stats) int64 { return s.BytesSent }),
	newMetric("sessions_restored", "Persistent sessions loaded from the store at start.", gauge,
		func(s Stats) int64 { return s.SessionsRestored }),
	newMetric("session_store_errors_total", "Session store writes that failed (the state was kept in memory only).",
		counter, func(s Stats) int64 { return s.StoreErrors }),
}

// collector exports Broker.Stats to Prometheus.
type collector struct{ b *Broker }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range metrics {
		ch <- m.desc
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Stats()
	for _, m := range metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(m.value(st)))
	}
}
