package codec

import (
	"bytes"
	"math"
	"strconv"

	"github.com/edgevault/edgevault/point"
)

var (
	wordOn  = []byte("on")
	wordOff = []byte("off")
)

// fastConvert is convert on a scanned leaf; ok is false where convert
// fails.
func (d *jsonDecoder) fastConvert(s *scan, n int32, f *FieldMap) (_ point.Value, ok bool) {
	typ := ""
	if f != nil {
		typ = f.Type
	}
	kind, raw := s.nodes[n].kind, s.val(n)
	switch typ {
	case "int":
		return fastInt(kind, raw)
	case "bool":
		return fastBool(kind, raw)
	case "string":
		return d.fastText(kind, raw)
	case "float":
		return fastFloat(kind, raw, f)
	}
	switch kind {
	case fkNumber:
		return fastFloat(kind, raw, f)
	case fkTrue, fkFalse:
		return point.Bool(kind == fkTrue), true
	case fkString:
		if d.spec.OnOffBool {
			if bytes.EqualFold(raw, wordOn) {
				return point.Bool(true), true
			}
			if bytes.EqualFold(raw, wordOff) {
				return point.Bool(false), true
			}
		}
		return point.String(d.values.intern(raw)), true
	}
	return point.Value{}, false
}

// fastFloat is toFloat.
func fastFloat(kind uint8, raw []byte, f *FieldMap) (point.Value, bool) {
	if kind != fkNumber {
		return point.Value{}, false
	}
	x, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return point.Value{}, false
	}
	if f != nil {
		if f.Scale != 0 {
			x *= f.Scale
		}
		x += f.Offset
	}
	return point.Float(x), true
}

// fastInt is toInt.
func fastInt(kind uint8, raw []byte) (point.Value, bool) {
	if kind != fkNumber {
		return point.Value{}, false
	}
	if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return point.Int(i), true
	}
	x, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || x != math.Trunc(x) || x >= math.MaxInt64 || x < math.MinInt64 {
		return point.Value{}, false
	}
	return point.Int(int64(x)), true
}

// fastBool is toBool.
func fastBool(kind uint8, raw []byte) (point.Value, bool) {
	switch kind {
	case fkTrue, fkFalse:
		return point.Bool(kind == fkTrue), true
	case fkNumber:
		switch string(raw) {
		case "0":
			return point.Bool(false), true
		case "1":
			return point.Bool(true), true
		}
	case fkString:
		if b, ok := parseOnOff(string(raw)); ok {
			return point.Bool(b), true
		}
	}
	return point.Value{}, false
}

// fastText is the string case of convert (scalarText).
func (d *jsonDecoder) fastText(kind uint8, raw []byte) (point.Value, bool) {
	switch kind {
	case fkString, fkNumber:
		return point.String(d.values.intern(raw)), true
	case fkTrue:
		return point.String("true"), true
	case fkFalse:
		return point.String("false"), true
	}
	return point.Value{}, false
}
