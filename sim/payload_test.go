package sim

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
)

var sample = Sample{Temperature: -3.07, Humidity: 40.12, Pressure: 1013.25, CO2: 412, Battery: 97, LinkQuality: 120, Motion: true}

func TestEncode(t *testing.T) {
	const ts = 1795860000123 // 2026-11-28T10:00:00.123Z
	tests := []struct {
		name   Format
		topic  string
		points int
		want   string
	}{
		{FormatJSON, "devices/d-1/telemetry", 5,
			`{"ts":1795860000123,"temperature":-3.07,"humidity":40.12,"pressure":1013.25,"co2":412,"battery":97}`},
		{FormatZigbee2MQTT, "zigbee2mqtt/d-1", 5,
			`{"temperature":-3.07,"humidity":40.12,"battery":97,"linkquality":120,"occupancy":true,"last_seen":1795860000123}`},
		{FormatTasmota, "tele/d-1/SENSOR", 2,
			`{"Time":"2026-11-28T10:00:00","AM2301":{"Temperature":-3.1,"Humidity":40.1},"TempUnit":"C"}`},
		{FormatLine, "telegraf/d-1/env", 2,
			`env,device=d-1 temperature=-3.07,humidity=40.12 1795860000123000000`},
		{FormatBinary, "sim/d-1/bin", 5, "\xfe\xcd\x0f\xac\x61\x01\x01\x9c"},
		{FormatJSON10, "devices/d-1/telemetry", 10,
			`{"ts":1795860000123,"temperature":-3.07,"humidity":40.12,"pressure":1013.25,"co2":412,"battery":97,` +
				`"linkquality":120,"motion":true,"voltage":2.98,"dew_point":-15.05,"rssi":-50}`},
	}
	for _, tt := range tests {
		t.Run(string(tt.name), func(t *testing.T) {
			got, err := tt.name.Encode(nil, "d-1", ts, sample)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("payload\n got %q\nwant %q", got, tt.want)
			}
			if topic := tt.name.Topic("d-1"); topic != tt.topic {
				t.Errorf("topic = %q, want %q", topic, tt.topic)
			}
			if n := tt.name.PointsPerMessage(); n != tt.points {
				t.Errorf("points = %d, want %d", n, tt.points)
			}
			if tt.name != FormatLine && tt.name != FormatBinary && !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func TestEncodeBinaryLayout(t *testing.T) {
	b, _ := FormatBinary.Encode(nil, "x", 0, sample)
	if len(b) != 8 {
		t.Fatalf("len = %d, want 8", len(b))
	}
	if got := int16(binary.BigEndian.Uint16(b[0:])); got != -307 {
		t.Errorf("temperature raw = %d, want -307", got)
	}
	if got := binary.BigEndian.Uint16(b[2:]); got != 4012 {
		t.Errorf("humidity raw = %d, want 4012", got)
	}
	if b[4] != 97 || b[5] != 1 {
		t.Errorf("battery, motion = %d, %d; want 97, 1", b[4], b[5])
	}
	if got := binary.BigEndian.Uint16(b[6:]); got != 412 {
		t.Errorf("co2 = %d, want 412", got)
	}
}

func TestEncodeUnknownFormat(t *testing.T) {
	if _, err := Format("xml").Encode(nil, "d", 0, sample); !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v, want ErrFormat", err)
	}
	if Format("xml").Valid() {
		t.Error("xml is valid")
	}
}

func TestWalkerDeterministicAndBounded(t *testing.T) {
	a, b, c := newWalker(7, 3), newWalker(7, 3), newWalker(7, 4)
	differs := false
	for range 10000 {
		sa, sb, sc := a.next(), b.next(), c.next()
		if sa != sb {
			t.Fatalf("same seed and index diverged: %+v vs %+v", sa, sb)
		}
		differs = differs || sa != sc
		if sa.Humidity < 0 || sa.Humidity > 100 || sa.Temperature < -20 || sa.Temperature > 50 ||
			sa.CO2 < 350 || sa.Battery < 0 || sa.Battery > 100 || sa.LinkQuality < 0 || sa.LinkQuality > 255 {
			t.Fatalf("out of bounds: %+v", sa)
		}
		if sa.Temperature != round2(sa.Temperature) || sa.Humidity != round2(sa.Humidity) {
			t.Fatalf("more than 2 decimals: %+v", sa)
		}
	}
	if !differs {
		t.Error("devices 3 and 4 produced identical walks")
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, f := range Formats {
		b.Run(string(f), func(b *testing.B) {
			w := newWalker(1, 0)
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for i := range b.N {
				buf, _ = f.Encode(buf[:0], "sim-0000", int64(i), w.next())
			}
		})
	}
}
