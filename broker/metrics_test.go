package broker

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// gather returns every edgevault_mqtt_* sample as "name{label=value}" ->
// value, through the registry as a scrape would.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			if len(ls) > 0 {
				name += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[name] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[name] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestMetrics drives each limit once and reads the counters back through
// a Prometheus registry.
func TestMetrics(t *testing.T) {
	hash, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.Registerer = reg
	cfg.Limits.MaxPacketSize = 1024
	cfg.Users = []User{{Username: "dev", PasswordHash: hash, ACL: []ACLRule{{Topic: "dev/#", Access: "readwrite"}}}}
	rec := newRecorder()
	rec.fail = func(m Message) error {
		if m.Topic == "dev/full" {
			return ErrOverloaded
		}
		return nil
	}
	_, addr := startBroker(t, cfg, rec)

	login := func(id, password string) (*rawConn, byte) {
		r := dialRaw(t, addr)
		cp := connectPacket(5, id)
		cp.Connect.UsernameFlag, cp.Connect.Username = true, []byte("dev")
		cp.Connect.PasswordFlag, cp.Connect.Password = true, []byte(password)
		r.send(cp)
		return r, r.read(5).ReasonCode
	}
	if _, code := login("intruder", "wrong"); code != packets.ErrBadUsernameOrPassword.Code {
		t.Fatalf("bad password: connack %#x", code)
	}
	noID := dialRaw(t, addr)
	cp := connectPacket(4, "")
	cp.Connect.Clean = false // [MQTT-3.1.3-7]: an empty id needs a clean session
	noID.send(cp)
	if ack := noID.read(4); ack.ReasonCode == 0 {
		t.Fatal("empty client id with a persistent session accepted")
	}
	garbage := dialRaw(t, addr)
	garbage.write([]byte{0x30, 0x00})
	garbage.closed(3 * time.Second)

	c, code := login("d1", "pw")
	if code != 0 {
		t.Fatalf("login: connack %#x", code)
	}
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 5,
		PacketID: 1, Filters: packets.Subscriptions{{Filter: "other/#", Qos: 1}, {Filter: "dev/#", Qos: 1}}})
	c.read(5) // SUBACK: 0x87, 1
	pub := func(topic string, qos byte) {
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, ProtocolVersion: 5,
			PacketID: 2, TopicName: topic, Payload: []byte("x")})
	}
	pub("other/x", 0)  // ACL denied
	pub("dev/full", 1) // refused by the handler: PUBACK 0x97
	for {
		if pk := c.read(5); pk.FixedHeader.Type == packets.Puback {
			break
		}
	}
	c.write([]byte{0x30, 0x81, 0x10}) // PUBLISH of 2049 bytes
	c.closed(3 * time.Second)

	want := map[string]float64{
		"edgevault_mqtt_connections_refused_total{reason=not_authorized}":  1,
		"edgevault_mqtt_connections_refused_total{reason=no_connect}":      1,
		"edgevault_mqtt_connections_refused_total{reason=max_clients}":     0,
		"edgevault_mqtt_connections_refused_total{reason=invalid_connect}": 1,
		"edgevault_mqtt_connections_refused_total{reason=pending_limit}":   0,
		"edgevault_mqtt_acl_denied_total{access=read}":                     1,
		"edgevault_mqtt_acl_denied_total{access=write}":                    1,
		"edgevault_mqtt_publishes_rejected_total":                          1,
		"edgevault_mqtt_packets_too_large_total":                           1,
		"edgevault_mqtt_panics_recovered_total":                            0,
		"edgevault_mqtt_clients":                                           0,
		"edgevault_mqtt_subscriptions":                                     0,
	}
	var got map[string]float64
	deadline := time.Now().Add(3 * time.Second)
	for {
		got = gather(t, reg)
		if mismatch(got, want) == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := mismatch(got, want); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"messages_received_total", "received_bytes_total", "sent_bytes_total"} {
		if got["edgevault_mqtt_"+name] == 0 {
			t.Errorf("edgevault_mqtt_%s is 0", name)
		}
	}
}

func mismatch(got, want map[string]float64) error {
	var errs []error
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			errs = append(errs, errors.New(k+": got "+ftoa(g)+", want "+ftoa(v)))
		}
	}
	return errors.Join(errs...)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// TestMetricsRegisterTwice: a second broker on the same registry is an
// error at New, not a panic at scrape time.
func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig()
	cfg.Registerer = reg
	b, err := New(cfg, newRecorder(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := New(cfg, newRecorder(), quietLog()); err == nil {
		t.Fatal("second registration accepted")
	}
}
