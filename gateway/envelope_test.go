package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/edgevault/edgevault/point"
)

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Envelope
		wantErr error
	}{
		{
			name: "group",
			in:   `{"v":1,"type":"group","id":"42","ts":1700000000000,"items":[{"sensor":"s1","contract":"env@v1","frame":"AQID","ts":5}]}`,
			want: Envelope{Type: TypeGroup, ID: "42", Time: 1700000000000,
				Frames: []Frame{{Sensor: "s1", Contract: "env@v1", Time: 5, Data: []byte{1, 2, 3}}}},
		},
		{
			name: "report kinds",
			in: ` {"type":"report","id":"43","items":[{"sensor":"s1","metric":"t","value":21.5,"ts":7},
				{"metric":"up","value":3600,"type":"int"},{"metric":"on","value":true},{"metric":"mode","value":"eco","type":"string"},
				{"metric":"n","value":21}]}`,
			want: Envelope{Type: TypeReport, ID: "43", Readings: []Reading{
				{Sensor: "s1", Metric: "t", Time: 7, Value: point.Float(21.5)},
				{Metric: "up", Value: point.Int(3600)},
				{Metric: "on", Value: point.Bool(true)},
				{Metric: "mode", Value: point.String("eco")},
				{Metric: "n", Value: point.Float(21)},
			}},
		},
		{
			name: "command",
			in:   `{"type":"command","id":"c-9","device":"valve1","name":"close","params":{"force":true}}`,
			want: Envelope{Type: TypeCommand, ID: "c-9", Device: "valve1", Name: "close", Params: map[string]any{"force": true}},
		},
		{
			name: "command result, empty result is nil",
			in:   `{"type":"command_result","id":"c-9","ok":false,"error":"jammed","result":{}}`,
			want: Envelope{Type: TypeCommandResult, ID: "c-9", Error: "jammed"},
		},
		{name: "heartbeat, unknown key ignored", in: `{"type":"heartbeat","id":"hb","future":1}`, want: Envelope{Type: TypeHeartbeat, ID: "hb"}},
		{name: "ack", in: `{"type":"ack","id":"42"}`, want: Envelope{Type: TypeAck, ID: "42"}},
		{name: "bad version", in: `{"v":2,"type":"ack","id":"1"}`, wantErr: ErrInvalid},
		{name: "unknown type", in: `{"type":"gossip","id":"1"}`, wantErr: ErrInvalid},
		{name: "missing id", in: `{"type":"ack"}`, wantErr: ErrInvalid},
		{name: "negative ts", in: `{"type":"ack","id":"1","ts":-1}`, wantErr: ErrInvalid},
		{name: "not json", in: `{"type":`, wantErr: ErrInvalid},
		{name: "neither form", in: `[1,2]`, wantErr: ErrInvalid},
		{name: "int type on float", in: `{"type":"report","id":"1","items":[{"metric":"m","value":1.5,"type":"int"}]}`, wantErr: ErrInvalid},
		{name: "kind mismatch", in: `{"type":"report","id":"1","items":[{"metric":"m","value":"x","type":"bool"}]}`, wantErr: ErrInvalid},
		{name: "null value", in: `{"type":"report","id":"1","items":[{"metric":"m","value":null}]}`, wantErr: ErrInvalid},
		{name: "missing value", in: `{"type":"report","id":"1","items":[{"metric":"m"}]}`, wantErr: ErrInvalid},
		{name: "float overflow", in: `{"type":"report","id":"1","items":[{"metric":"m","value":1e999}]}`, wantErr: ErrInvalid},
		{name: "empty metric", in: `{"type":"report","id":"1","items":[{"metric":"","value":1}]}`, wantErr: ErrInvalid},
		{name: "frame without contract", in: `{"type":"group","id":"1","items":[{"sensor":"s","frame":"AQ=="}]}`, wantErr: ErrInvalid},
		{name: "empty frame", in: `{"type":"group","id":"1","items":[{"sensor":"s","contract":"c"}]}`, wantErr: ErrInvalid},
		{name: "bad base64", in: `{"type":"group","id":"1","items":[{"sensor":"s","contract":"c","frame":"!!"}]}`, wantErr: ErrInvalid},
		{name: "params not object", in: `{"type":"command","id":"1","name":"x","params":[1]}`, wantErr: ErrInvalid},
		{name: "command without name", in: `{"type":"command","id":"1"}`, wantErr: ErrInvalid},
		{name: "id too long", in: `{"type":"ack","id":"` + strings.Repeat("x", MaxIDLen+1) + `"}`, wantErr: ErrTooLarge},
		{name: "too many items", in: `{"type":"report","id":"1","items":[` + strings.Repeat(`{},`, MaxItems) + `{}]}`, wantErr: ErrTooLarge},
		{name: "frame too large", in: `{"type":"group","id":"1","items":[{"sensor":"s","contract":"c","frame":"` +
			strings.Repeat("AAAA", MaxFrame/3+1) + `"}]}`, wantErr: ErrTooLarge},
		{name: "payload too large", in: `{"type":"ack","id":"1","pad":"` + strings.Repeat(" ", MaxEnvelope) + `"}`, wantErr: ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeEnvelope([]byte(tc.in))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// bin builds a binary envelope by hand, field by field, as doc.go lays it out.
func bin(typ Type, id string, ts uint64, body ...[]byte) []byte {
	b := []byte{'G', 'W', Version, byte(typ)}
	b = appendString(b, id)
	b = binary.AppendUvarint(b, ts)
	for _, p := range body {
		b = append(b, p...)
	}
	return b
}

func uv(v uint64) []byte      { return binary.AppendUvarint(nil, v) }
func str(s string) []byte     { return appendString(nil, s) }
func f64(f float64) []byte    { return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)) }
func vi(v int64) []byte       { return binary.AppendVarint(nil, v) }
func raw(b ...byte) []byte    { return b }
func blob(p []byte) []byte    { return appendBytes(nil, p) }
func cat(ps ...[]byte) []byte { return bytes.Join(ps, nil) }

func TestDecodeBinary(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Envelope
		wantErr error
	}{
		{
			name: "group",
			in: bin(TypeGroup, "42", 1700000000000, uv(2),
				str("s1"), str("env@v1"), uv(0), blob([]byte{1, 2}),
				str("s2"), str("env"), uv(9), blob([]byte{3})),
			want: Envelope{Type: TypeGroup, ID: "42", Time: 1700000000000, Binary: true, Frames: []Frame{
				{Sensor: "s1", Contract: "env@v1", Data: []byte{1, 2}},
				{Sensor: "s2", Contract: "env", Time: 9, Data: []byte{3}}}},
		},
		{
			name: "report every kind",
			in: bin(TypeReport, "r", 0, uv(4),
				str(""), str("t"), uv(5), raw(1), f64(-21.5),
				str("s"), str("i"), uv(0), raw(2), vi(-3),
				str("s"), str("b"), uv(0), raw(3), raw(1),
				str("s"), str("x"), uv(0), raw(4), str("eco")),
			want: Envelope{Type: TypeReport, ID: "r", Binary: true, Readings: []Reading{
				{Metric: "t", Time: 5, Value: point.Float(-21.5)},
				{Sensor: "s", Metric: "i", Value: point.Int(-3)},
				{Sensor: "s", Metric: "b", Value: point.Bool(true)},
				{Sensor: "s", Metric: "x", Value: point.String("eco")}}},
		},
		{
			name: "command",
			in:   bin(TypeCommand, "c1", 0, str("valve"), str("close"), str(`{"pos":1}`)),
			want: Envelope{Type: TypeCommand, ID: "c1", Binary: true, Device: "valve", Name: "close", Params: map[string]any{"pos": 1.0}},
		},
		{
			name: "command result",
			in:   bin(TypeCommandResult, "c1", 0, raw(1), str(""), str("")),
			want: Envelope{Type: TypeCommandResult, ID: "c1", Binary: true, OK: true},
		},
		{name: "heartbeat", in: bin(TypeHeartbeat, "hb", 3), want: Envelope{Type: TypeHeartbeat, ID: "hb", Time: 3, Binary: true}},
		{name: "bad version", in: []byte{'G', 'W', 2, 3, 1, 'x', 0}, wantErr: ErrInvalid},
		{name: "bad type", in: bin(9, "x", 0), wantErr: ErrInvalid},
		{name: "truncated id", in: []byte{'G', 'W', 1, 3, 5, 'x'}, wantErr: ErrInvalid},
		{name: "trailing bytes", in: cat(bin(TypeAck, "x", 0), raw(0)), wantErr: ErrInvalid},
		{name: "bad kind", in: bin(TypeReport, "r", 0, uv(1), str("s"), str("m"), uv(0), raw(7)), wantErr: ErrInvalid},
		{name: "truncated float", in: bin(TypeReport, "r", 0, uv(1), str("s"), str("m"), uv(0), raw(1, 0, 0)), wantErr: ErrInvalid},
		{name: "nan", in: bin(TypeReport, "r", 0, uv(1), str("s"), str("m"), uv(0), raw(1), f64(math.NaN())), wantErr: ErrInvalid},
		{name: "bool not 0 or 1", in: bin(TypeReport, "r", 0, uv(1), str("s"), str("m"), uv(0), raw(3, 2)), wantErr: ErrInvalid},
		{name: "count lies", in: bin(TypeGroup, "g", 0, uv(3), str("s"), str("c"), uv(0), blob([]byte{1})), wantErr: ErrInvalid},
		{name: "count over limit", in: bin(TypeGroup, "g", 0, uv(MaxItems+1)), wantErr: ErrTooLarge},
		{name: "frame over limit", in: bin(TypeGroup, "g", 0, uv(1), str("s"), str("c"), uv(0), uv(MaxFrame+1)), wantErr: ErrInvalid},
		{name: "huge length", in: bin(TypeGroup, "g", 0, uv(1), uv(1<<62)), wantErr: ErrInvalid},
		{name: "ts overflow", in: bin(TypeAck, "x", math.MaxUint64), wantErr: ErrInvalid},
		{name: "params not json", in: bin(TypeCommand, "c", 0, str("d"), str("n"), str("{")), wantErr: ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeEnvelope(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func sampleEnvelopes() []Envelope {
	return []Envelope{
		{Type: TypeGroup, ID: "g1", Time: 1700000000000, Frames: []Frame{
			{Sensor: "s1", Contract: "env@v1", Data: []byte{0, 1, 2, 255}},
			{Sensor: "s2", Contract: "env", Time: 1, Data: []byte("x")}}},
		{Type: TypeReport, ID: "r1", Readings: []Reading{
			{Metric: "t", Value: point.Float(-0.0)},
			{Sensor: "s", Metric: "big", Time: 2, Value: point.Int(math.MinInt64)},
			{Sensor: "s", Metric: "f", Value: point.Float(1e-300)},
			{Sensor: "s", Metric: "b", Value: point.Bool(false)},
			{Sensor: "s", Metric: "s", Value: point.String("é \"q\"")}}},
		{Type: TypeStatus, ID: "st", Readings: []Reading{{Metric: "uptime", Value: point.Int(5)}}},
		{Type: TypeAck, ID: "a"},
		{Type: TypeHeartbeat, ID: "h", Time: 9},
		{Type: TypeCommand, ID: "c", Device: "d", Name: "set", Params: map[string]any{"a": 1.5, "b": []any{"x"}}},
		{Type: TypeCommandAck, ID: "c"},
		{Type: TypeCommandResult, ID: "c", OK: true, Result: map[string]any{"state": "on"}},
		{Type: TypeCommandResult, ID: "c", Error: "jammed"},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, env := range sampleEnvelopes() {
		for _, binForm := range []bool{false, true} {
			t.Run(env.Type.String()+map[bool]string{false: "/json", true: "/binary"}[binForm], func(t *testing.T) {
				got, err := DecodeEnvelope(Encode(env, binForm))
				if err != nil {
					t.Fatal(err)
				}
				want := env
				want.Binary = binForm
				if !reflect.DeepEqual(got, want) { // point.Value compares float bits: -0 != 0
					t.Fatalf("got  %+v\nwant %+v", got, want)
				}
			})
		}
	}
}

func TestAckFor(t *testing.T) {
	for _, binForm := range []bool{false, true} {
		env := Envelope{Type: TypeGroup, ID: "m-7", Binary: binForm}
		got, err := DecodeEnvelope(AckFor(env))
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != TypeAck || got.ID != "m-7" || got.Binary != binForm {
			t.Fatalf("binary=%v: got %+v", binForm, got)
		}
	}
	if got := string(AckFor(Envelope{ID: "9"})); got != `{"v":1,"type":"ack","id":"9"}` {
		t.Fatalf("json ack = %s", got)
	}
}

// TestDocExamples keeps the JSON examples of doc.go decodable.
func TestDocExamples(t *testing.T) {
	for _, ex := range []string{
		`{"v":1,"type":"group","id":"42","ts":1700000000000,"items":[
		  {"sensor":"s1","contract":"env@v1","frame":"CJgQ2FYBAZA=","ts":1700000000000}]}`,
		`{"type":"report","id":"43","items":[
		  {"sensor":"s1","metric":"temperature","value":21.5,"ts":1700000000000},
		  {"metric":"uptime","value":3600,"type":"int"}]}`,
		`{"type":"command","id":"c-9","device":"valve1","name":"close","params":{"force":true}}`,
		`{"type":"command_result","id":"c-9","ok":false,"error":"jammed","result":{"pos":12}}`,
	} {
		if _, err := DecodeEnvelope([]byte(ex)); err != nil {
			t.Errorf("%s: %v", ex, err)
		}
	}
}

// TestScanJSONTakesEncoded: what Encode writes for the frequent types takes
// the fast path, and reads as json.Unmarshal reads it.
func TestScanJSONTakesEncoded(t *testing.T) {
	for _, env := range append(sampleEnvelopes(), group20()) {
		payload := Encode(env, false)
		var fast, slow jsonEnvelope
		ok := scanJSON(payload, &fast)
		switch env.Type {
		case TypeCommand, TypeCommandResult:
			continue // json.Unmarshal reads their bodies
		}
		if bytes.IndexByte(payload, '\\') >= 0 {
			continue // and strings with escapes
		}
		if !ok {
			t.Errorf("%s: %s not taken by the fast path", env.Type, payload)
			continue
		}
		if err := json.Unmarshal(payload, &slow); err != nil || !sameJSONEnvelope(fast, slow) {
			t.Errorf("%s: fast %+v, json.Unmarshal %+v (%v)", env.Type, fast, slow, err)
		}
	}
}

func TestAckForIsEncode(t *testing.T) {
	for _, id := range []string{"1", "1700000000000-42", "a b~", `q"uote`, `back\slash`, "é", "\u2028", "<&>"} {
		for _, binForm := range []bool{false, true} {
			got := AckFor(Envelope{Type: TypeGroup, ID: id, Binary: binForm})
			if want := Encode(Envelope{Type: TypeAck, ID: id}, binForm); !bytes.Equal(got, want) {
				t.Errorf("id %q binary=%v: AckFor %q, Encode %q", id, binForm, got, want)
			}
		}
	}
}

func BenchmarkAckFor(b *testing.B) {
	env := Envelope{Type: TypeGroup, ID: "1700000000000-42"}
	b.ReportAllocs()
	for b.Loop() {
		AckFor(env)
	}
}
