package codec

import "testing"

// Payloads of BenchmarkSet: what `edgevault bench ingest` and a typical
// zigbee2mqtt sensor publish.
const (
	benchGeneric = `{"temperature":21.37,"humidity":40.12,"pressure":1013.25,"co2":412,"battery":97,"ts":1700000000000}`
	benchZigbee  = `{"battery":100,"humidity":54.12,"linkquality":87,"power_outage_count":12,"pressure":1004.8,"temperature":21.37,"voltage":3015,"last_seen":"2024-05-01T10:15:02+02:00","update":{"state":"idle","installed_version":-1,"latest_version":-1},"update_available":null}`
)

// BenchmarkSet measures Set.Decode with the presets, as the broker calls it.
func BenchmarkSet(b *testing.B) {
	s := presetSet(b)
	for _, bc := range []struct {
		name, topic, payload string
		n                    int
	}{
		{"generic", "devices/dev-0042/telemetry", benchGeneric, 5},
		{"zigbee2mqtt", "zigbee2mqtt/living_temp", benchZigbee, 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := Message{Topic: bc.topic, Payload: []byte(bc.payload), Received: 1}
			b.SetBytes(int64(len(m.Payload)))
			b.ReportAllocs()
			for b.Loop() {
				d, err := s.Decode(m)
				if err != nil || len(d.Readings) != bc.n {
					b.Fatal(err, len(d.Readings))
				}
			}
		})
	}
}

// BenchmarkJSONPaths compares, in one run, the fast path with the
// encoding/json path it falls back to, on the payloads of BenchmarkSet.
func BenchmarkJSONPaths(b *testing.B) {
	decs := fastDecoders(b)
	for _, bc := range []struct{ name, contract, payload string }{
		{"generic", "generic-telemetry@v1", benchGeneric},
		{"zigbee2mqtt", "zigbee2mqtt@v1", benchZigbee},
	} {
		d := decs[bc.contract]
		m := Message{Topic: "x", Payload: []byte(bc.payload), Received: 1}
		b.Run(bc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := d.decodeFast(m, "dev", nil); !ok {
					b.Fatal("fast path declined")
				}
			}
		})
		b.Run(bc.name+"/encoding_json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.decodeSlow(m, "dev", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
