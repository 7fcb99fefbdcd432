package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/edgevault/edgevault/point"
)

// jsonEnvelope is the JSON form; one struct for every type keeps the
// decoder a single pass.
type jsonEnvelope struct {
	V      int             `json:"v,omitempty"`
	Type   string          `json:"type"`
	ID     string          `json:"id"`
	TS     int64           `json:"ts,omitempty"`
	Items  []jsonItem      `json:"items,omitempty"`
	Device string          `json:"device,omitempty"`
	Name   string          `json:"name,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	OK     *bool           `json:"ok,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// jsonItem is a reading (metric, value) or a frame (contract, frame).
type jsonItem struct {
	Sensor   string          `json:"sensor,omitempty"`
	Metric   string          `json:"metric,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	Type     string          `json:"type,omitempty"`
	Contract string          `json:"contract,omitempty"`
	Frame    []byte          `json:"frame,omitempty"`
	TS       int64           `json:"ts,omitempty"`
}

func decodeJSON(b []byte) (Envelope, error) {
	var j jsonEnvelope
	if !scanJSON(b, &j) {
		j = jsonEnvelope{}
		if err := json.Unmarshal(b, &j); err != nil {
			return Envelope{}, invalid("json: %v", err)
		}
	}
	if j.V != 0 && j.V != Version {
		return Envelope{}, invalid("version %d not supported", j.V)
	}
	t, ok := parseType(j.Type)
	if !ok {
		return Envelope{}, invalid("type %q", j.Type)
	}
	if len(j.Items) > MaxItems {
		return Envelope{}, fmt.Errorf("%d items: %w (limit %d)", len(j.Items), ErrTooLarge, MaxItems)
	}
	// Fields that do not belong to the type are ignored, as unknown keys are.
	env := Envelope{Type: t, ID: j.ID, Time: j.TS}
	var err error
	switch t {
	case TypeReport, TypeStatus:
		env.Readings, err = jsonReadings(j.Items)
	case TypeGroup:
		env.Frames = jsonFrames(j.Items)
	case TypeCommand:
		env.Device, env.Name = j.Device, j.Name
		env.Params, err = jsonObject("params", j.Params)
	case TypeCommandResult:
		env.OK, env.Error = j.OK != nil && *j.OK, j.Error
		env.Result, err = jsonObject("result", j.Result)
	}
	return env, err
}

func jsonObject(what string, raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if len(raw) > MaxObject {
		return nil, fmt.Errorf("%s: %d bytes: %w (limit %d)", what, len(raw), ErrTooLarge, MaxObject)
	}
	m, err := parseObject(raw)
	if err != nil {
		return nil, invalid("%s: %v", what, err)
	}
	return m, nil
}

func jsonReadings(items []jsonItem) ([]Reading, error) {
	if len(items) == 0 {
		return nil, nil
	}
	out := make([]Reading, len(items))
	for i, it := range items {
		v, err := jsonValue(it.Value, it.Type)
		if err != nil {
			return nil, fmt.Errorf("items[%d]: value: %w", i, err)
		}
		out[i] = Reading{Sensor: it.Sensor, Metric: it.Metric, Time: it.TS, Value: v}
	}
	return out, nil
}

func jsonFrames(items []jsonItem) []Frame {
	if len(items) == 0 {
		return nil
	}
	out := make([]Frame, len(items))
	for i, it := range items {
		out[i] = Frame{Sensor: it.Sensor, Contract: it.Contract, Time: it.TS, Data: it.Frame}
	}
	return out
}

// jsonValue reads a number, boolean or string; kind, when given, must agree
// ("int" is the only way to get an integer).
func jsonValue(raw json.RawMessage, kind string) (point.Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return point.Value{}, invalid("missing")
	}
	var v point.Value
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return v, invalid("%v", err)
		}
		v = point.String(s)
	case c == 't' || c == 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return v, invalid("%v", err)
		}
		v = point.Bool(b)
	case c == '-' || (c >= '0' && c <= '9'):
		return jsonNumber(string(raw), kind)
	default:
		return v, invalid("%.20s is not a number, boolean or string", raw)
	}
	if kind != "" && kind != v.Kind().String() {
		return point.Value{}, invalid("type %q does not match %s", kind, v.Kind())
	}
	return v, nil
}

func jsonNumber(s, kind string) (point.Value, error) {
	switch kind {
	case "int":
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return point.Value{}, invalid("%q is not an int64", s)
		}
		return point.Int(i), nil
	case "", "float":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return point.Value{}, invalid("%q is not a float64", s)
		}
		return point.Float(f), nil
	}
	return point.Value{}, invalid("type %q does not match a number", kind)
}

func encodeJSON(e Envelope) []byte {
	j := jsonEnvelope{V: Version, Type: e.Type.String(), ID: e.ID, TS: e.Time}
	switch e.Type {
	case TypeReport, TypeStatus:
		j.Items = make([]jsonItem, len(e.Readings))
		for i, r := range e.Readings {
			j.Items[i] = jsonItem{Sensor: r.Sensor, Metric: r.Metric, TS: r.Time, Value: valueJSON(r.Value)}
			if r.Value.Kind() == point.KindInt {
				j.Items[i].Type = "int"
			}
		}
	case TypeGroup:
		j.Items = make([]jsonItem, len(e.Frames))
		for i, f := range e.Frames {
			j.Items[i] = jsonItem{Sensor: f.Sensor, Contract: f.Contract, TS: f.Time, Frame: f.Data}
		}
	case TypeCommand:
		j.Device, j.Name, j.Params = e.Device, e.Name, marshalObject(e.Params)
	case TypeCommandResult:
		j.OK, j.Result, j.Error = &e.OK, marshalObject(e.Result), e.Error
	}
	var buf bytes.Buffer
	buf.Grow(64 + binarySize(&e)*2)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // params and result must not grow past MaxObject on the way
	if err := enc.Encode(&j); err != nil {
		return nil // nothing in j can fail: values and objects are already JSON
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func valueJSON(v point.Value) json.RawMessage {
	if v.Kind() == point.KindFloat {
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return json.RawMessage("null")
		}
	}
	b, _ := v.MarshalJSON() // never fails: numbers, booleans and json.Marshal of a string
	return b
}
