package codec

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/edgevault/edgevault/point"
)

// convert turns a JSON leaf into a typed value as the mapping f says (f may
// be nil: numbers become floats, booleans bools, strings strings).
func (d *jsonDecoder) convert(v any, f *FieldMap) (point.Value, error) {
	typ := ""
	if f != nil {
		typ = f.Type
	}
	switch typ {
	case "int":
		return toInt(v)
	case "bool":
		return toBool(v)
	case "string":
		s, ok := scalarText(v)
		if !ok {
			return point.Value{}, fmt.Errorf("want a scalar for a string field, got %s", jsonKind(v))
		}
		return point.String(s), nil
	case "float":
		return toFloat(v, f)
	}
	switch x := v.(type) {
	case json.Number:
		return toFloat(x, f)
	case bool:
		return point.Bool(x), nil
	case string:
		if d.spec.OnOffBool {
			if strings.EqualFold(x, "on") {
				return point.Bool(true), nil
			}
			if strings.EqualFold(x, "off") {
				return point.Bool(false), nil
			}
		}
		return point.String(x), nil
	}
	return point.Value{}, fmt.Errorf("want a number, bool or string, got %s", jsonKind(v))
}

func toFloat(v any, f *FieldMap) (point.Value, error) {
	n, ok := v.(json.Number)
	if !ok {
		return point.Value{}, fmt.Errorf("want a number for a float field, got %s", jsonKind(v))
	}
	x, err := n.Float64()
	if err != nil {
		return point.Value{}, fmt.Errorf("number %s is out of the float64 range", clip(string(n)))
	}
	if f != nil {
		if f.Scale != 0 {
			x *= f.Scale
		}
		x += f.Offset
	}
	return point.Float(x), nil
}

func toInt(v any) (point.Value, error) {
	n, ok := v.(json.Number)
	if !ok {
		return point.Value{}, fmt.Errorf("want a number for an int field, got %s", jsonKind(v))
	}
	if i, err := n.Int64(); err == nil {
		return point.Int(i), nil
	}
	x, err := n.Float64()
	if err != nil || x != math.Trunc(x) || x >= math.MaxInt64 || x < math.MinInt64 {
		return point.Value{}, fmt.Errorf("%s is not a 64-bit integer", n)
	}
	return point.Int(int64(x)), nil
}

func toBool(v any) (point.Value, error) {
	switch x := v.(type) {
	case bool:
		return point.Bool(x), nil
	case json.Number:
		switch x {
		case "0":
			return point.Bool(false), nil
		case "1":
			return point.Bool(true), nil
		}
	case string:
		if b, ok := parseOnOff(x); ok {
			return point.Bool(b), nil
		}
	}
	return point.Value{}, fmt.Errorf("want a boolean, got %s", jsonKind(v))
}

// parseOnOff reads the usual spellings of a boolean state.
func parseOnOff(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "on", "1", "yes", "online", "connected":
		return true, true
	case "false", "off", "0", "no", "offline", "disconnected", "lost":
		return false, true
	}
	return false, false
}

func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
