package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPublishEveryFormatQueryBack publishes one message in every payload
// format over a real MQTT connection (and line protocol over HTTP /write),
// then reads each value back through the query API. It runs with the
// example configuration, so that file stays true.
func TestPublishEveryFormatQueryBack(t *testing.T) {
	n := startEdge(t, t.TempDir(), "--config", "../examples/edge.yaml")
	c := n.client(t, "formats")
	ts := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ms := ts.UnixMilli()

	bin := make([]byte, 8)
	binary.BigEndian.PutUint16(bin[0:], uint16(0xFE00)) // -5.12 °C
	binary.BigEndian.PutUint16(bin[2:], 4321)           // 43.21 %
	bin[4], bin[5] = 88, 0x01                           // battery, motion
	binary.BigEndian.PutUint16(bin[6:], 415)            // co2 ppm

	messages := []struct {
		name, topic string
		payload     []byte
	}{
		{"json", "devices/j1/telemetry", []byte(fmt.Sprintf(`{"temperature":21.37,"humidity":40,"door":"open","ts":%d}`, ms))},
		{"json array", "devices/j2/telemetry", []byte(fmt.Sprintf(`[{"metric":"temperature","value":20.5,"ts":%d},{"metric":"temperature","value":20.75,"ts":%d}]`, ms, ms+1000))},
		{"zigbee2mqtt", "zigbee2mqtt/hall", []byte(`{"temperature":19.8,"occupancy":true,"battery":97,"linkquality":120}`)},
		{"tasmota", "tele/plug1/SENSOR", []byte(`{"Time":"2026-11-01T12:00:00","AM2301":{"Temperature":20.3,"Humidity":45.2},"TempUnit":"C"}`)},
		{"line protocol", "telegraf/lp1/env", []byte(fmt.Sprintf("env,device=lp1 temperature=18.25,count=7i %d", ts.UnixNano()))},
		{"binary", "sim/b1/bin", bin},
	}
	for _, m := range messages {
		publish(t, c, m.topic, 1, m.payload)
	}
	resp, err := http.Post("http://"+n.http+"/write?db=home&precision=ms", "text/plain",
		strings.NewReader(fmt.Sprintf("env,device=w1 temperature=17.5 %d\n", ms)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("/write: status %d: %s", resp.StatusCode, body)
	}

	// A value published with its own time is stored at that time.
	at := []struct {
		device, metric string
		t              int64
		want           any
	}{
		{"j1", "temperature", ms, 21.37},
		{"j1", "humidity", ms, 40.0},
		{"j1", "door", ms, "open"},
		{"j2", "temperature", ms + 1000, 20.75},
		{"lp1", "temperature", ms, 18.25},
		{"lp1", "count", ms, 7.0},
		{"w1", "temperature", ms, 17.5},
	}
	for _, w := range at {
		got := n.query(t, w.device, w.metric)
		if got[w.t] != w.want {
			t.Errorf("%s/%s at %d = %v (all: %v), want %v", w.device, w.metric, w.t, got[w.t], got, w.want)
		}
	}
	// Values without a time in the payload are stored at the time received.
	only := []struct {
		device, metric string
		want           any
	}{
		{"hall", "temperature", 19.8},
		{"hall", "occupancy", true},
		{"plug1", "AM2301_Temperature", 20.3}, // Tasmota's Time has no zone: the receive time is used
		{"b1", "temperature", -5.12},
		{"b1", "humidity", 43.21},
		{"b1", "motion", true},
		{"b1", "co2", 415.0},
	}
	for _, w := range only {
		got := n.query(t, w.device, w.metric)
		if len(got) != 1 {
			t.Errorf("%s/%s: %d points %v, want 1", w.device, w.metric, len(got), got)
			continue
		}
		for _, v := range got {
			if v != w.want {
				t.Errorf("%s/%s = %v, want %v", w.device, w.metric, v, w.want)
			}
		}
	}

	var dev struct {
		ID     string `json:"id"`
		Online bool   `json:"online"`
		Series []struct {
			Metric string `json:"metric"`
		} `json:"series"`
	}
	if code := n.get(t, "/api/v1/devices/j1", &dev); code != http.StatusOK || dev.ID != "j1" || !dev.Online || len(dev.Series) != 3 {
		t.Fatalf("GET /api/v1/devices/j1: %d %+v, want online with 3 series", code, dev)
	}
}
