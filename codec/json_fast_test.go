package codec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/edgevault/edgevault/point"
)

// fastDecoders compiles json contracts covering every option the fast path
// reads: presets, mappings of every type, scale and offset, ignore lists,
// declared and automatic timestamps, device_field, "." separator,
// mapped_only.
func fastDecoders(t testing.TB) map[string]*jsonDecoder {
	cs := append(loadContracts(t, "contracts.yaml"), Presets()...)
	cs = append(cs,
		Contract{Name: "dot", Topic: "dot/{device}", Format: "json", JSON: &JSONSpec{Separator: ".", TimeUnit: "ms"}},
		Contract{Name: "rfc", Topic: "rfc/{device}", Format: "json", JSON: &JSONSpec{TimeUnit: "rfc3339", Ignore: []string{"a.b"}}},
		Contract{Name: "only", Topic: "only/{device}", Format: "json", JSON: &JSONSpec{MappedOnly: true, Timestamp: "t.at",
			Fields: []FieldMap{{Path: "v", Metric: "v", Scale: 2, Offset: 1}, {Path: "a.b", Metric: "ab"}}}},
		Contract{Name: "typed", Topic: "typed/{device}", Format: "json", DeviceField: "id", JSON: &JSONSpec{
			OnOffBool: true, Ignore: []string{"junk"}, TimeUnit: "s",
			Fields: []FieldMap{{Path: "n", Metric: "n", Type: "int"}, {Path: "b", Metric: "b", Type: "bool"},
				{Path: "s", Metric: "s", Type: "string"}, {Path: "f", Metric: "f", Type: "float"},
				{Path: "x.y", Metric: "xy", Offset: 0.5}}}},
	)
	set, err := NewSet(cs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonDecoder{}
	for _, cc := range set.list {
		if d, ok := cc.dec.(*jsonDecoder); ok {
			out[cc.id] = d
		}
	}
	return out
}

var fastTags = []point.Tag{{Key: "site", Value: "north"}}

// compareFast decodes b with both paths of d and fails if the fast path
// accepts b with other readings than encoding/json gives, or accepts what
// encoding/json rejects. It reports whether the fast path accepted b.
func compareFast(t *testing.T, id string, d *jsonDecoder, b []byte) bool {
	m := Message{Topic: "x", Payload: b, Received: 7}
	fast, ok := d.decodeFast(m, "dev", fastTags)
	slow, err := d.decodeSlow(m, "dev", fastTags)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%s: %q: fast path accepted, encoding/json: %v", id, b, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s: %q:\nfast %s\nslow %s", id, b, show(fast.Readings), show(slow.Readings))
	}
	return true
}

func FuzzJSONFastPath(f *testing.F) {
	for _, s := range []string{benchGeneric, benchZigbee, `{"temperature":21.5,"humidity":40}`, `{}`, ` { } `,
		`{"meta":{"id":"ws-1","t":1700000000,"fw":"1.2"},"sensors":{"env":{"temp":4.5,"temp_f":50,"hum":80},"wind":{"gusts":12}},"ok":true}`,
		`{"n":42,"b":"on","s":17,"f":1e3,"junk":{"x":1},"id":"d7","x":{"y":-0}}`, `{"n":4.2e1,"b":1,"s":true,"id":12}`,
		`{"v":3,"a":{"b":2,"c":1},"t":{"at":"2024-05-01T10:15:02Z"}}`, `{"TS":1,"Time":2,"v":1}`, `{"tİme":5,"v":1}`,
		`{"a":1,"a":2}`, `{"a":"\u00e9"}`, `{"k\u0065y":1,"key":2}`, `{"a\"b":"\/\\\b\f\n\r\t\u00B0\ud83d\ude00"}`, `{"a":[1,2]}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e999}`, `{"a":"x"} x`,
		`{"state":"ON","color":{"x":0.45,"y":0.41},"last_seen":"2024-05-01T10:15:02+02:00","update_available":null}`,
		`{"POWER":"off","Wifi":{"RSSI":76,"BSSId":"aa"},"Time":"2024-05-01T10:15:02","AM2301":{"Temperature":22.4}}`,
		`{"":{"a":1},"a.b":2,"ts":"1700000000"}`, "{\"\xff\":1}", `{"a":"°C","ts":1700000000123456}`} {
		f.Add([]byte(s))
	}
	decs := fastDecoders(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for id, d := range decs {
			compareFast(t, id, d, b)
		}
	})
}

// TestJSONFastPath checks which payloads the fast path takes on, and that
// it then agrees with encoding/json; the rest must fall back.
func TestJSONFastPath(t *testing.T) {
	decs := fastDecoders(t)
	tests := []struct {
		name, contract, payload string
		fast                    bool
	}{
		{"generic", "generic-telemetry@v1", benchGeneric, true},
		{"zigbee2mqtt", "zigbee2mqtt@v1", benchZigbee, true},
		{"tasmota", "tasmota-sensor@v1", string(fixture(t, "tasmota/sensor_am2301.json")), true},
		{"mappings and device field", "weather-station@v2",
			`{"meta":{"id":"ws-1","t":1700000000},"sensors":{"env":{"temp":4.5,"temp_f":50,"hum":80},"wind":{"gusts":12}}}`, true},
		{"typed", "typed@v0", `{"n":42,"b":"on","s":17,"f":1e3,"junk":{"x":1},"id":"d7","x":{"y":-0}}`, true},
		{"mapped only", "only@v0", `{"v":3,"a":{"b":2,"c":1},"t":{"at":"2024-05-01T10:15:02Z"}}`, true},
		{"dot separator", "dot@v0", `{"a":{"b":1,"c":{"d":"x"}},"ts":1700000000123}`, true},
		{"empty object", "generic-telemetry@v1", ` {} `, true},
		{"utf-8 string", "generic-telemetry@v1", `{"unit":"°C","v":1}`, true},
		{"array falls back", "generic-telemetry@v1", `{"a":[1,2]}`, false},
		{"top-level array falls back", "generic-telemetry@v1", `[{"a":1}]`, false},
		{"escapes", "generic-telemetry@v1", `{"unit":"\u00b0C\n\"\/\\\b\f\r","v":1}`, true},
		{"escaped duplicate key falls back", "generic-telemetry@v1", `{"ke\u0079":2,"key":3}`, false},
		{"escaped key", "generic-telemetry@v1", `{"t\u00e9mp":1,"z":"a\tb"}`, true},
		{"surrogate escape falls back", "generic-telemetry@v1", `{"a":"\ud83d\ude00"}`, false},
		{"bad escape falls back", "generic-telemetry@v1", `{"a":"\x"}`, false},
		{"duplicate key falls back", "generic-telemetry@v1", `{"a":1,"a":2}`, false},
		{"ambiguous time keys fall back", "generic-telemetry@v1", `{"TS":1,"Time":2,"v":1}`, false},
		{"invalid utf-8 falls back", "generic-telemetry@v1", "{\"a\":\"\xff\"}", false},
		{"deep nesting falls back", "generic-telemetry@v1", strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9), false},
		{"error falls back", "typed@v0", `{"n":1.5,"id":"d"}`, false},
		{"invalid JSON falls back", "generic-telemetry@v1", `{"a":1`, false},
		{"trailing data falls back", "generic-telemetry@v1", `{"a":1} 2`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decs[tt.contract]
			if d == nil {
				t.Fatalf("no contract %s", tt.contract)
			}
			if got := compareFast(t, tt.contract, d, []byte(tt.payload)); got != tt.fast {
				t.Errorf("fast path taken: %v, want %v", got, tt.fast)
			}
		})
	}
}

func TestInternCacheBounded(t *testing.T) {
	var c internCache
	c.intern([]byte("first"))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * internMaxEntries {
				k := fmt.Sprintf("k%d-%d", g, i)
				if got := c.intern([]byte(k)); got != k {
					t.Errorf("intern(%q) = %q", k, got)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(*c.m.Load()); n != internMaxEntries {
		t.Errorf("cache holds %d entries, want %d", n, internMaxEntries)
	}
	if c.intern([]byte(strings.Repeat("x", internMaxLen+1))); len(*c.m.Load()) != internMaxEntries {
		t.Error("cache grew past its bound")
	}
	if _, ok := c.get([]byte("first")); !ok {
		t.Error("early key not cached")
	}
}

// TestDecodeFastNoAllocs pins the promise of the fast path: the readings
// slice is the only allocation of a repeated generic message.
func TestDecodeFastNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := presetSet(t)
	m := Message{Topic: "devices/dev-0042/telemetry", Payload: []byte(benchGeneric), Received: 1}
	s.Decode(m) // fill the intern cache
	if n := testing.AllocsPerRun(100, func() { s.Decode(m) }); n > 1 {
		t.Errorf("%v allocations per Decode, want 1", n)
	}
}

// TestJSONFastConcurrent decodes while other goroutines reuse the pooled
// scan state, then checks every result kept: a reading that aliased a
// pooled buffer would have changed.
func TestJSONFastConcurrent(t *testing.T) {
	d := fastDecoders(t)["typed@v0"]
	var payloads [][]byte
	var want []Decoded
	for i := range 8 {
		p := fmt.Sprintf(`{"id":"d\u00e9v-%d","s":"s\t%d","k%d":"v\u00b0%d","x":{"y":%d}}`, i, i, i, i, i)
		payloads = append(payloads, []byte(p))
		w, err := d.decodeSlow(Message{Payload: []byte(p)}, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, w)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got []Decoded
			for i := range 400 {
				out, ok := d.decodeFast(Message{Payload: payloads[(g+i)%len(payloads)]}, "", nil)
				if !ok {
					t.Error("fast path declined")
					return
				}
				got = append(got, out)
			}
			for i, out := range got {
				if w := want[(g+i)%len(payloads)]; !reflect.DeepEqual(out, w) {
					t.Errorf("goroutine %d, decode %d:\n%s\nwant\n%s", g, i, show(out.Readings), show(w.Readings))
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDefaultIgnored(t *testing.T) {
	for _, tt := range []struct {
		key  string
		want bool
	}{
		{"ts", true}, {"TS", true}, {"Time", true}, {"timestamp", true}, {"DEVICE", true}, {"device_id", true},
		{"t", false}, {"tss", false}, {"temperature", false}, {"", false}, {"T\u0130ME", true}, {"tſ", false},
		{strings.Repeat("x", 70), false},
	} {
		if got := defaultIgnored([]byte(tt.key)); got != tt.want {
			t.Errorf("defaultIgnored(%q) = %v, want %v", tt.key, got, tt.want)
		}
		if want := slices.Contains(defaultIgnore, strings.ToLower(tt.key)); want != tt.want {
			t.Errorf("%q: table disagrees with strings.ToLower", tt.key)
		}
	}
}
