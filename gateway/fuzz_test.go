package gateway

import (
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
