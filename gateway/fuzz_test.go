package gateway

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/edgevault/edgevault/point"
)

func addSeeds(f *testing.F) {
	for _, env := range sampleEnvelopes() {
		f.Add(Encode(env, false))
		f.Add(Encode(env, true))
	}
	f.Add([]byte(`{"type":"report","id":"1","items":[{"metric":"m","value":1,"type":"int"}]}`))
	f.Add([]byte(`{"type":"command","id":"1","name":"x","params":{"a":"<>"}}`))
	f.Add([]byte("GW\x01\x02\x01x\x00\x01\x01s\x01c\x00\x01\xff"))
	f.Add([]byte("GW\x01\x01\x01x\x00\xff\xff\xff\xff\x0f"))
	f.Add([]byte{})
}

// FuzzDecodeEnvelope checks that no input panics or escapes the limits, and
// that whatever decodes survives a round trip through both forms unchanged.
func FuzzDecodeEnvelope(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		env, err := DecodeEnvelope(payload)
		if err != nil {
			return
		}
		if len(env.Readings)+len(env.Frames) > MaxItems {
			t.Fatalf("%d items accepted", len(env.Readings)+len(env.Frames))
		}
		for _, binForm := range []bool{false, true} {
			again, err := DecodeEnvelope(Encode(env, binForm))
			if err != nil {
				t.Fatalf("binary=%v: re-decode: %v\nenv %+v", binForm, err, env)
			}
			again.Binary = env.Binary
			if !reflect.DeepEqual(again, env) {
				t.Fatalf("binary=%v: round trip changed\n got %+v\nwant %+v", binForm, again, env)
			}
		}
	})
}

// FuzzRoundTrip builds envelopes from fuzzed fields and checks that every
// valid one encodes and decodes to itself in both forms.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(2), "g1", int64(1700000000000), "s1", "env@v1", []byte{1, 2, 3}, "t", 21.5, int64(7), "eco")
	f.Add(uint8(1), "r", int64(0), "", "", []byte{}, "m", -0.0, int64(-1), "")
	f.Add(uint8(6), "c", int64(5), "dev", "close", []byte(`{}`), "x", 0.0, int64(0), "err")
	f.Fuzz(func(t *testing.T, typ uint8, id string, ts int64, sensor, name string, data []byte,
		metric string, fv float64, iv int64, text string) {
		env := Envelope{Type: Type(typ), ID: id, Time: ts}
		switch env.Type {
		case TypeReport, TypeStatus:
			env.Readings = []Reading{
				{Sensor: sensor, Metric: metric, Time: iv & 0x7fffffffffff, Value: point.Float(fv)},
				{Sensor: sensor, Metric: metric, Value: point.Int(iv)},
				{Metric: metric, Value: point.String(text)},
			}
		case TypeGroup:
			env.Frames = []Frame{{Sensor: sensor, Contract: name, Time: ts, Data: data}}
		case TypeCommand:
			env.Device, env.Name = sensor, name
			if text != "" {
				env.Params = map[string]any{text: fv}
			}
		case TypeCommandResult:
			env.OK, env.Error = iv%2 == 0, text
		}
		if env.validate() != nil {
			return
		}
		for _, binForm := range []bool{false, true} {
			got, err := DecodeEnvelope(Encode(env, binForm))
			if err != nil {
				if env.Params != nil { // a map key or value JSON cannot carry exactly
					continue
				}
				t.Fatalf("binary=%v: %v\nenv %+v", binForm, err, env)
			}
			want := env
			want.Binary = binForm
			if env.Params == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("binary=%v: got %+v\nwant %+v", binForm, got, want)
			}
		}
	})
}

// FuzzScanJSON holds the fast JSON path to json.Unmarshal: whatever
// scanJSON accepts, json.Unmarshal accepts and reads the same way.
func FuzzScanJSON(f *testing.F) {
	addSeeds(f)
	for _, s := range []string{
		`{"v":1,"type":"group","id":"42","ts":1700000000000,"items":[{"sensor":"s1","contract":"env@v1","frame":"CJgQ2FYBAZA=","ts":1700000000000}]}`,
		`{"type":"report","id":"43","items":[{"sensor":"s1","metric":"t","value":-21.5e3,"ts":0},{"metric":"up","value":3600,"type":"int"},{"metric":"on","value":true},{"metric":"x","value":"é"}]}`,
		` { "type" : "ack" , "id" : "1" } `, `{"type":"ack","id":"1","ID":"2"}`, `{"type":"ack","id":"1","id":"2"}`,
		`{"type":"group","id":"1","items":[{"frame":""},{"frame":"AA=="}],"ts":1}`, `{"items":[]}`, `{"ts":01}`, `{"ts":1.0}`,
		`{"type":"report","id":"1","items":[{"value":01}]}`, `{"id":"a\u0041"}`, `{"v":1e0}`, `{"items":[{"ts":-0}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var fast jsonEnvelope
		if !scanJSON(payload, &fast) {
			return
		}
		var slow jsonEnvelope
		if err := json.Unmarshal(payload, &slow); err != nil {
			t.Fatalf("scanJSON accepted what json.Unmarshal refuses (%v): %q", err, payload)
		}
		if !sameJSONEnvelope(fast, slow) {
			t.Fatalf("scanJSON read %q differently\nfast %+v\nslow %+v", payload, fast, slow)
		}
	})
}

// sameJSONEnvelope compares two decodings; an empty frame or raw value is
// the same nil or not (nothing downstream tells them apart).
func sameJSONEnvelope(a, b jsonEnvelope) bool {
	norm := func(e *jsonEnvelope) {
		for i := range e.Items {
			if len(e.Items[i].Frame) == 0 {
				e.Items[i].Frame = nil
			}
			if len(e.Items[i].Value) == 0 {
				e.Items[i].Value = nil
			}
		}
	}
	norm(&a)
	norm(&b)
	return reflect.DeepEqual(a, b)
}
