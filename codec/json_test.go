package codec

import (
	"errors"
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	user := loadContracts(t, "contracts.yaml")
	dot := Contract{Name: "dot", Topic: "dot/{device}", Format: "json", JSON: &JSONSpec{Separator: "."}}
	ms := Contract{Name: "ms", Topic: "ms/{device}", Format: "json", JSON: &JSONSpec{Timestamp: "at", TimeUnit: "ms"}}
	rfc := Contract{Name: "rfc", Topic: "rfc/{device}", Format: "json", JSON: &JSONSpec{TimeUnit: "rfc3339"}}
	scalar := Contract{Name: "scalar", Topic: "home/{room}/{device}/{metric}", Format: "json"}
	typed := Contract{Name: "typed", Topic: "typed/{device}", Format: "json", JSON: &JSONSpec{
		Ignore: []string{"junk"},
		Fields: []FieldMap{{Path: "n", Metric: "n", Type: "int"}, {Path: "b", Metric: "b", Type: "bool"},
			{Path: "s", Metric: "s", Type: "string"}, {Path: "f", Metric: "f", Type: "float"}}}}
	s, err := NewSet(append(user, dot, ms, rfc, scalar, typed))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, topic, payload, want string
	}{
		{"nested mappings", "site/north/weather",
			`{"meta":{"id":"ws-1","t":1700000000,"fw":"1.2"},"sensors":{"env":{"temp":4.5,"temp_f":50,"hum":80},"wind":{"gusts":12}},"ok":true}`,
			`ws-1 temperature{site=north} 1700000000000 float:4.5
ws-1 temperature_f_as_c{site=north} 1700000000000 float:10
ws-1 gusts{site=north} 1700000000000 int:12
ws-1 ok{site=north} 1700000000000 bool:true
ws-1 sensors_env_hum{site=north} 1700000000000 float:80
`},
		{"flatten with dot and arrays", "dot/d", `{"a":{"b":1,"c":[true,"x"]},"time":"2024-05-01T10:15:02.5Z"}`,
			`d a.b 1714558502500 float:1
d a.c.0 1714558502500 bool:true
d a.c.1 1714558502500 string:"x"
`},
		{"auto seconds", "dot/d", `{"v":1,"ts":1700000000}`, "d v 1700000000000 float:1\n"},
		{"auto fractional seconds", "dot/d", `{"v":1,"ts":1700000000.25}`, "d v 1700000000250 float:1\n"},
		{"auto ms", "dot/d", `{"v":1,"timestamp":1700000000123}`, "d v 1700000000123 float:1\n"},
		{"auto us", "dot/d", `{"v":1,"Timestamp":1700000000123456}`, "d v 1700000000123 float:1\n"},
		{"auto ns", "dot/d", `{"v":1,"ts":1700000000123456789}`, "d v 1700000000123 float:1\n"},
		{"auto numeric string", "dot/d", `{"v":1,"ts":"1700000000"}`, "d v 1700000000000 float:1\n"},
		{"zoneless time is UTC", "dot/d", `{"v":1,"time":"2024-05-01T10:15:02"}`, "d v 1714558502000 float:1\n"},
		{"time with offset", "dot/d", `{"v":1,"time":"2024-05-01T12:15:02+02:00"}`, "d v 1714558502000 float:1\n"},
		{"declared ms path", "ms/d", `{"v":1,"at":1700000000}`, "d v 1700000000 float:1\n"},
		{"null time uses receive time", "dot/d", `{"v":1,"ts":null}`, "d v 7 float:1\n"},
		{"device key ignored", "dot/d", `{"device":"zz","device_id":"q","v":2}`, "d v 7 float:2\n"},
		{"rfc3339 declared", "rfc/d", `{"v":1,"ts":"2024-05-01T10:15:02Z"}`, "d v 1714558502000 float:1\n"},
		{"scalar with metric level", "home/kitchen/k1/temperature", `21.5`, "k1 temperature{room=kitchen} 7 float:21.5\n"},
		{"scalar string", "home/kitchen/k1/mode", `"eco"`, "k1 mode{room=kitchen} 7 string:\"eco\"\n"},
		{"typed mapping", "typed/d", `{"n":42,"b":"on","s":17,"f":1e3,"junk":{"x":1}}`,
			`d n 7 int:42
d b 7 bool:true
d s 7 string:"17"
d f 7 float:1000
`},
		{"int from exponent", "typed/d", `{"n":4.2e1}`, "d n 7 int:42\n"},
		{"empty object", "dot/d", `{}`, ""},
		{"array of objects", "dot/d", `[{"ts":1700000000,"a":1},{"ts":1700000001,"a":2}]`,
			"d a 1700000000000 float:1\nd a 1700000001000 float:2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.Decode(Message{Topic: tt.topic, Payload: []byte(tt.payload), Received: 7})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := show(d.Readings); got != tt.want {
				t.Errorf("readings:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestJSONErrors(t *testing.T) {
	user := loadContracts(t, "contracts.yaml")
	typed := Contract{Name: "typed", Topic: "typed/{device}", Format: "json", JSON: &JSONSpec{
		Fields: []FieldMap{{Path: "n", Metric: "n", Type: "int"}, {Path: "b", Metric: "b", Type: "bool"}}}}
	s, err := NewSet(append(append(user, typed), Presets()...))
	if err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	many := "[" + strings.Repeat(`{"metric":"m","value":1},`, MaxReadings) + `{"metric":"m","value":1}]`
	tests := []struct {
		name, topic, payload, want string
		is                         error
	}{
		{"invalid json", "devices/d/telemetry", `{"a":`, "contract generic-telemetry@v1: payload: invalid JSON", nil},
		{"trailing data", "devices/d/telemetry", `{"a":1} {"b":2}`, "data after the first value", nil},
		{"too deep", "devices/d/telemetry", deep, "nested too deep", ErrTooDeep},
		{"too many readings", "devices/d/telemetry", many, "more than 10000 readings", ErrTooLarge},
		{"not an int", "typed/d", `{"n":1.5}`, `field "n": 1.5 is not a 64-bit integer`, nil},
		{"not a bool", "typed/d", `{"b":"maybe"}`, `field "b": want a boolean, got a string`, nil},
		{"missing device field", "site/s/weather", `{"sensors":{}}`, `field "meta.id": missing device`, nil},
		{"bad device field", "site/s/weather", `{"meta":{"id":{}}}`, `field "meta.id": device must be a string or number`, nil},
		{"bad timestamp", "devices/d/telemetry", `{"ts":"yesterday","v":1}`, `field "ts": timestamp: "yesterday" is not an RFC 3339 time`, nil},
		{"array of scalars", "devices/d/telemetry", `[1,2]`, "element 0: want an object, got a number", nil},
		{"bare scalar without metric", "devices/d/telemetry", `3`, "a bare a number needs json.metric", nil},
		{"huge number", "devices/d/telemetry", `{"v":1e999}`, `field "v": number 1e999 is out of the float64 range`, nil},
		{"empty key", "devices/d/telemetry", `{"":1}`, `field "": metric: empty name`, nil},
		{"point without value", "devices/d/telemetry", `[{"metric":"m"}]`, `element 0: field "value": missing`, nil},
		{"bad device in topic", "devices/\x01/telemetry", `{"a":1}`, "device: name", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Decode(Message{Topic: tt.topic, Payload: []byte(tt.payload), Received: 7})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err %v is not %v", err, tt.is)
			}
		})
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	s := presetSet(b)
	m := Message{Topic: "devices/d1/telemetry", Received: 1,
		Payload: []byte(`{"temperature":21.5,"humidity":40.25,"pressure":1013.2,"battery":97,"door":false,"ts":1700000000123}`)}
	b.ReportAllocs()
	for b.Loop() {
		d, err := s.Decode(m)
		if err != nil || len(d.Readings) != 5 {
			b.Fatal(err, len(d.Readings))
		}
	}
}

func TestTopicCaptureValidated(t *testing.T) {
	s, err := NewSet(loadContracts(t, "contracts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"site/\x01/weather", "site//weather", "site/\xff/weather"} {
		_, err := s.Decode(Message{Topic: topic, Payload: []byte(`{"meta":{"id":"w"},"v":1}`)})
		if err == nil || !strings.Contains(err.Error(), "level {site}") {
			t.Errorf("%q: err %v", topic, err)
		}
	}
}
