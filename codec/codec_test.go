package codec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/edgevault/edgevault/point"
)

// show renders readings as "device metric{k=v} time value" lines, sorted
// as produced.
func show(rs []point.Reading) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Device + " " + r.Metric)
		if len(r.Tags) > 0 {
			b.WriteByte('{')
			for i, t := range r.Tags {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(t.Key + "=" + t.Value)
			}
			b.WriteByte('}')
		}
		b.WriteString(" " + itoa(r.Time) + " " + r.Value.Kind().String() + ":" + r.Value.String() + "\n")
	}
	return b.String()
}

func itoa(i int64) string { return point.Int(i).String() }

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadContracts decodes a contracts file the way the config loader does.
func loadContracts(t testing.TB, name string) []Contract {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(fixture(t, name)))
	dec.KnownFields(true)
	var cs []Contract
	if err := dec.Decode(&cs); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return cs
}

func presetSet(t testing.TB) *Set {
	t.Helper()
	s, err := NewSet(Presets())
	if err != nil {
		t.Fatalf("presets do not compile: %v", err)
	}
	return s
}

const recv = 1714558502000 // 2024-05-01T10:15:02Z

func TestPresets(t *testing.T) {
	s := presetSet(t)
	tests := []struct {
		name, topic string
		payload     string // literal, or @file under testdata
		contract    string
		want        string
		status      []Status
	}{
		{name: "zigbee2mqtt weather", topic: "zigbee2mqtt/living_temp", payload: "@zigbee2mqtt/aqara_weather.json",
			contract: "zigbee2mqtt@v1", want: `living_temp battery 1714558502000 float:100
living_temp humidity 1714558502000 float:54.12
living_temp linkquality 1714558502000 float:87
living_temp power_outage_count 1714558502000 float:12
living_temp pressure 1714558502000 float:1004.8
living_temp temperature 1714558502000 float:21.37
living_temp update_installed_version 1714558502000 float:-1
living_temp update_latest_version 1714558502000 float:-1
living_temp update_state 1714558502000 string:"idle"
living_temp voltage 1714558502000 float:3015
`},
		{name: "zigbee2mqtt bulb", topic: "zigbee2mqtt/hall", payload: "@zigbee2mqtt/hue_bulb.json",
			contract: "zigbee2mqtt@v1", want: `hall brightness 1714558502000 float:254
hall color_hue 1714558502000 float:30
hall color_saturation 1714558502000 float:70
hall color_x 1714558502000 float:0.4573
hall color_y 1714558502000 float:0.41
hall color_mode 1714558502000 string:"xy"
hall color_temp 1714558502000 float:370
hall linkquality 1714558502000 float:120
hall state 1714558502000 bool:true
`},
		{name: "zigbee2mqtt motion", topic: "zigbee2mqtt/pir", payload: "@zigbee2mqtt/motion.json",
			contract: "zigbee2mqtt@v1", want: `pir battery 1714558502000 float:91
pir device_temperature 1714558502000 float:27
pir illuminance 1714558502000 float:8
pir illuminance_lux 1714558502000 float:8
pir linkquality 1714558502000 float:54
pir occupancy 1714558502000 bool:true
pir voltage 1714558502000 float:2985
`},
		{name: "zigbee2mqtt availability word", topic: "zigbee2mqtt/pir/availability", payload: "offline",
			contract: "zigbee2mqtt-availability@v1", status: []Status{{"pir", false}}},
		{name: "zigbee2mqtt availability json", topic: "zigbee2mqtt/pir/availability", payload: `{"state":"online"}`,
			contract: "zigbee2mqtt-availability@v1", status: []Status{{"pir", true}}},
		{name: "zigbee2mqtt bridge ignored", topic: "zigbee2mqtt/bridge/state", payload: `{"state":"online"}`,
			contract: "zigbee2mqtt-bridge@v1"},
		{name: "zigbee2mqtt set ignored", topic: "zigbee2mqtt/hall/set", payload: `{"state":"OFF"}`,
			contract: "zigbee2mqtt-set@v1"},
		{name: "zigbee2mqtt get ignored", topic: "zigbee2mqtt/hall/get", payload: `{"state":""}`,
			contract: "zigbee2mqtt-get@v1"},
		{name: "tasmota am2301", topic: "tele/plug1/SENSOR", payload: "@tasmota/sensor_am2301.json",
			contract: "tasmota-sensor@v1", want: `plug1 AM2301_DewPoint 1714558502000 float:10.9
plug1 AM2301_Humidity 1714558502000 float:48.3
plug1 AM2301_Temperature 1714558502000 float:22.4
`},
		{name: "tasmota energy", topic: "tele/plug1/SENSOR", payload: "@tasmota/sensor_energy.json",
			contract: "tasmota-sensor@v1", want: `plug1 ENERGY_ApparentPower 1714558502000 float:52
plug1 ENERGY_Current 1714558502000 float:0.226
plug1 ENERGY_Factor 1714558502000 float:0.87
plug1 ENERGY_Period 1714558502000 float:2
plug1 ENERGY_Power 1714558502000 float:45
plug1 ENERGY_ReactivePower 1714558502000 float:26
plug1 ENERGY_Today 1714558502000 float:0.321
plug1 ENERGY_Total 1714558502000 float:123.456
plug1 ENERGY_TotalStartTime 1714558502000 string:"2023-11-02T18:10:55"
plug1 ENERGY_Voltage 1714558502000 float:231
plug1 ENERGY_Yesterday 1714558502000 float:1.234
`},
		{name: "tasmota state", topic: "tele/plug1/STATE", payload: "@tasmota/state.json",
			contract: "tasmota-state@v1", want: `plug1 Heap 1714558502000 float:25
plug1 LoadAvg 1714558502000 float:19
plug1 MqttCount 1714558502000 float:1
plug1 POWER 1714558502000 bool:true
plug1 Sleep 1714558502000 float:50
plug1 SleepMode 1714558502000 string:"Dynamic"
plug1 UptimeSec 1714558502000 float:273906
plug1 Wifi_AP 1714558502000 float:1
plug1 Wifi_Channel 1714558502000 float:6
plug1 Wifi_Downtime 1714558502000 string:"0T00:00:04"
plug1 Wifi_LinkCount 1714558502000 float:1
plug1 Wifi_Mode 1714558502000 string:"11n"
plug1 Wifi_RSSI 1714558502000 float:76
plug1 Wifi_SSId 1714558502000 string:"home"
plug1 Wifi_Signal 1714558502000 float:-62
`},
		{name: "tasmota lwt", topic: "tele/plug1/LWT", payload: "Offline",
			contract: "tasmota-lwt@v1", status: []Status{{"plug1", false}}},
		{name: "generic flat", topic: "devices/d7/telemetry", payload: `{"temperature":21.5,"humidity":40,"ts":1700000000}`,
			contract: "generic-telemetry@v1", want: `d7 humidity 1700000000000 float:40
d7 temperature 1700000000000 float:21.5
`},
		{name: "generic array", topic: "devices/d7/telemetry",
			payload:  `[{"metric":"t","value":1,"ts":1700000000123},{"metric":"door","value":true}]`,
			contract: "generic-telemetry@v1", want: `d7 t 1700000000123 float:1
d7 door 1714558502000 bool:true
`},
		{name: "generic status", topic: "devices/d7/status", payload: `{"online":true}`,
			contract: "generic-status@v1", status: []Status{{"d7", true}}},
		{name: "telegraf", topic: "telegraf/host1/cpu", payload: "cpu,cpu=cpu0 usage_idle=99.5,usage_user=0.5 1700000000000000000\n",
			contract: "telegraf@v1", want: `host1 usage_idle{cpu=cpu0} 1700000000000 float:99.5
host1 usage_user{cpu=cpu0} 1700000000000 float:0.5
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := []byte(tt.payload)
			if f, ok := strings.CutPrefix(tt.payload, "@"); ok {
				payload = fixture(t, f)
			}
			d, err := s.Decode(Message{Topic: tt.topic, Payload: payload, Received: recv})
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d.Contract != tt.contract {
				t.Errorf("contract %q, want %q", d.Contract, tt.contract)
			}
			if got := show(d.Readings); got != tt.want {
				t.Errorf("readings:\n%s\nwant:\n%s", got, tt.want)
			}
			if len(d.Status) != len(tt.status) || len(tt.status) > 0 && d.Status[0] != tt.status[0] {
				t.Errorf("status %v, want %v", d.Status, tt.status)
			}
			for _, r := range d.Readings {
				if err := r.Validate(); err != nil {
					t.Errorf("reading %s does not validate: %v", r.Metric, err)
				}
			}
		})
	}
}

func TestDecodeNoContract(t *testing.T) {
	s := presetSet(t)
	for _, topic := range []string{"other/x", "tele/plug1/RESULT", "$SYS/broker/uptime", "devices/d1"} {
		_, err := s.Decode(Message{Topic: topic, Payload: []byte("{}")})
		if !errors.Is(err, ErrNoContract) {
			t.Errorf("%s: err %v, want ErrNoContract", topic, err)
		}
	}
}

func TestUserContractsFirst(t *testing.T) {
	user := Contract{Name: "mine", Version: 3, Topic: "zigbee2mqtt/{device}", Format: FormatJSON,
		JSON: &JSONSpec{MappedOnly: true, Fields: []FieldMap{{Path: "temperature", Metric: "temp_c"}}}}
	s, err := NewSet(append([]Contract{user}, Presets()...))
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Decode(Message{Topic: "zigbee2mqtt/x", Payload: []byte(`{"temperature":20,"humidity":1}`), Received: 5})
	if err != nil {
		t.Fatal(err)
	}
	if want := "x temp_c 5 float:20\n"; d.Contract != "mine@v3" || show(d.Readings) != want {
		t.Errorf("got %s %q, want mine@v3 %q", d.Contract, show(d.Readings), want)
	}
	if got := s.Contracts(); len(got) != len(Presets())+1 || got[0].Name != "mine" {
		t.Errorf("Contracts() = %d contracts starting %q", len(got), got[0].Name)
	}
}

func TestNewSetErrors(t *testing.T) {
	bin := func(fs ...BinaryField) *BinarySpec { return &BinarySpec{Fields: fs} }
	tests := []struct {
		name string
		c    Contract
		want string // substring of the error
	}{
		{"missing name", Contract{Topic: "a/{device}", Format: "json"}, `contract "": name: empty name`},
		{"negative version", Contract{Name: "x", Version: -1, Topic: "a/{device}", Format: "json"}, "version: must not be negative"},
		{"empty topic", Contract{Name: "x", Format: "json"}, "x@v0: topic: empty topic pattern"},
		{"hash not last", Contract{Name: "x", Topic: "a/#/b", Format: "json"}, "topic: '#' must be the last level"},
		{"mixed wildcard", Contract{Name: "x", Topic: "a/b+/{device}", Format: "json"}, "mixes text with a wildcard"},
		{"bad capture", Contract{Name: "x", Topic: "a/{dev-ice}", Format: "json"}, "capture \"{dev-ice}\""},
		{"twice capture", Contract{Name: "x", Topic: "{device}/{device}", Format: "json"}, "appears twice"},
		{"unknown format", Contract{Name: "x", Topic: "a/{device}", Format: "xml"}, `format: unknown "xml"`},
		{"missing format", Contract{Name: "x", Topic: "a/{device}"}, "format: missing"},
		{"no device", Contract{Name: "x", Topic: "a/+", Format: "json"}, "no {device} level and no device_field"},
		{"json section on binary", Contract{Name: "x", Topic: "a/{device}", Format: "binary", JSON: &JSONSpec{}}, "json: only for json formats"},
		{"missing metric", Contract{Name: "x", Topic: "a/{device}", Format: "json",
			JSON: &JSONSpec{Fields: []FieldMap{{Path: "a.b"}}}}, `json.fields[0]: metric: missing for path "a.b"`},
		{"bad field type", Contract{Name: "x", Topic: "a/{device}", Format: "json",
			JSON: &JSONSpec{Fields: []FieldMap{{Path: "a", Metric: "a", Type: "decimal"}}}}, `type: unknown "decimal"`},
		{"scale on int", Contract{Name: "x", Topic: "a/{device}", Format: "json",
			JSON: &JSONSpec{Fields: []FieldMap{{Path: "a", Metric: "a", Type: "int", Scale: 2}}}}, "scale and offset apply to float"},
		{"bad time unit", Contract{Name: "x", Topic: "a/{device}", Format: "json", JSON: &JSONSpec{TimeUnit: "fortnight"}}, "json.time_unit"},
		{"binary no fields", Contract{Name: "x", Topic: "a/{device}", Format: "binary"}, "binary.fields: at least one"},
		{"binary bad type", Contract{Name: "x", Topic: "a/{device}", Format: "binary", Binary: bin(BinaryField{Metric: "a", Type: "u24"})},
			`binary.fields[0] (a): type: unknown "u24"`},
		{"binary missing metric", Contract{Name: "x", Topic: "a/{device}", Format: "binary", Binary: bin(BinaryField{Type: "u8"})},
			"binary.fields[0] (): metric: empty name"},
		{"binary bit range", Contract{Name: "x", Topic: "a/{device}", Format: "binary", Binary: bin(BinaryField{Metric: "m", Type: "bool", Bit: 8})},
			"bit: 8 is outside 0..7"},
		{"binary length too short", Contract{Name: "x", Topic: "a/{device}", Format: "binary",
			Binary: &BinarySpec{Length: 2, Fields: []BinaryField{{Metric: "m", Offset: 1, Type: "u16"}}}}, "binary.length: 2 bytes, but the fields need 3"},
		{"binary bad endian", Contract{Name: "x", Topic: "a/{device}", Format: "binary",
			Binary: &BinarySpec{Endian: "middle", Fields: []BinaryField{{Metric: "m", Type: "u16"}}}}, `endian: want big or little, got "middle"`},
		{"line bad metric format", Contract{Name: "x", Topic: "a/#", Format: "line", Line: &LineOptions{MetricFormat: "x"}}, "line.metric_format"},
		{"status without device", Contract{Name: "x", Topic: "a/+", Format: "status"}, "format status needs a {device}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSet([]Contract{tt.c})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewSet error %v, want it to contain %q", err, tt.want)
			}
			if verr := Validate(tt.c); verr == nil {
				t.Errorf("Validate accepted what NewSet rejected")
			}
		})
	}
}

func TestNewSetDuplicateAndOverlap(t *testing.T) {
	c := Contract{Name: "x", Version: 1, Topic: "a/{device}", Format: "status"}
	if _, err := NewSet([]Contract{c, c}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate contracts: err %v", err)
	}
	// Overlapping binary fields are allowed: a byte read whole and as bits.
	ov := Contract{Name: "ov", Topic: "b/{device}", Format: "binary", Binary: &BinarySpec{Fields: []BinaryField{
		{Metric: "flags", Offset: 0, Type: "u8"}, {Metric: "armed", Offset: 0, Type: "bool", Bit: 7}}}}
	if err := Validate(ov); err != nil {
		t.Errorf("overlapping fields rejected: %v", err)
	}
}

func TestContractsFileStrict(t *testing.T) {
	cs := loadContracts(t, "contracts.yaml")
	if _, err := NewSet(cs); err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader("- name: x\n  topic: a/{device}\n  format: json\n  jsn: {}\n"))
	dec.KnownFields(true)
	var bad []Contract
	if err := dec.Decode(&bad); err == nil {
		t.Error("unknown key jsn accepted")
	}
}

func TestPayloadTooLarge(t *testing.T) {
	s := presetSet(t)
	_, err := s.Decode(Message{Topic: "devices/d/telemetry", Payload: make([]byte, MaxPayload+1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err %v, want ErrTooLarge", err)
	}
}

func TestDecodeConcurrent(t *testing.T) {
	s := presetSet(t)
	msgs := []Message{
		{Topic: "zigbee2mqtt/a", Payload: fixture(t, "zigbee2mqtt/hue_bulb.json")},
		{Topic: "tele/b/STATE", Payload: fixture(t, "tasmota/state.json")},
		{Topic: "telegraf/c/cpu", Payload: []byte("cpu usage=1,idle=2\ncpu usage=3")},
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				_, err = s.Decode(msgs[(g+i)%len(msgs)])
			}
			done <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
