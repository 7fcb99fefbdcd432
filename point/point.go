// Package point defines the unit of telemetry that flows through edgevault:
// a Reading is one typed Value of one series at one instant.
//
// A series is named by its device, its metric and optional tags. Time is
// Unix milliseconds everywhere inside edgevault; codecs convert whatever a
// payload carries (seconds, nanoseconds, RFC 3339) at the edge of the system.
package point

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the type of a Value. A series keeps the kind of its first reading.
type Kind uint8

const (
	KindFloat  Kind = 1
	KindInt    Kind = 2
	KindBool   Kind = 3
	KindString Kind = 4
)

func (k Kind) String() string {
	switch k {
	case KindFloat:
		return "float"
	case KindInt:
		return "int"
	case KindBool:
		return "bool"
	case KindString:
		return "string"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Numeric reports whether values of this kind can be summed and averaged.
func (k Kind) Numeric() bool { return k == KindFloat || k == KindInt }

// Value is an immutable typed value. The zero Value is invalid (Kind 0).
type Value struct {
	kind Kind
	num  uint64 // float64 bits, int64 bits, or 0/1 for bool
	str  string
}

func Float(f float64) Value { return Value{kind: KindFloat, num: math.Float64bits(f)} }
func Int(i int64) Value     { return Value{kind: KindInt, num: uint64(i)} }
func String(s string) Value { return Value{kind: KindString, str: s} }

// FromBits is the Value of kind k (not KindString) whose FloatBits are
// bits: the inverse of FloatBits for numbers and bools.
func FromBits(k Kind, bits uint64) Value {
	if k == KindString {
		return Value{}
	}
	return Value{kind: k, num: bits}
}

func Bool(b bool) Value {
	if b {
		return Value{kind: KindBool, num: 1}
	}
	return Value{kind: KindBool}
}

func (v Value) Kind() Kind        { return v.kind }
func (v Value) Valid() bool       { return v.kind >= KindFloat && v.kind <= KindString }
func (v Value) Float() float64    { return math.Float64frombits(v.num) }
func (v Value) Int() int64        { return int64(v.num) }
func (v Value) Bool() bool        { return v.num != 0 }
func (v Value) Str() string       { return v.str }
func (v Value) FloatBits() uint64 { return v.num }

// AsFloat converts a numeric or bool value to float64; ok is false for strings.
func (v Value) AsFloat() (f float64, ok bool) {
	switch v.kind {
	case KindFloat:
		return v.Float(), true
	case KindInt:
		return float64(v.Int()), true
	case KindBool:
		return float64(v.num), true
	}
	return 0, false
}

// Equal reports whether two values have the same kind and the same bits.
func (v Value) Equal(o Value) bool { return v == o }

func (v Value) String() string {
	switch v.kind {
	case KindFloat:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case KindInt:
		return strconv.FormatInt(v.Int(), 10)
	case KindBool:
		return strconv.FormatBool(v.Bool())
	case KindString:
		return strconv.Quote(v.str)
	}
	return "invalid"
}

// MarshalJSON writes the value as a JSON number, boolean or string.
// NaN and infinities, which JSON cannot carry, are written as null.
func (v Value) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil), nil }

// AppendJSON appends the JSON form of the value to dst (query answers
// stream a million of them without an allocation each).
func (v Value) AppendJSON(dst []byte) []byte {
	if v.kind == KindString {
		s, _ := json.Marshal(v.str) // a string always marshals
		return append(dst, s...)
	}
	return AppendBitsJSON(dst, v.kind, v.num)
}

// AppendBitsJSON appends the JSON form of FromBits(k, bits), as AppendJSON
// does, for values kept as kind and bits without a Value (store columns). A
// string has no bits: KindString, like an invalid kind, writes null.
func AppendBitsJSON(dst []byte, k Kind, bits uint64) []byte {
	switch k {
	case KindFloat:
		f := math.Float64frombits(bits)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		return appendFloat(dst, f)
	case KindInt:
		return strconv.AppendInt(dst, int64(bits), 10)
	case KindBool:
		return strconv.AppendBool(dst, bits != 0)
	}
	return append(dst, "null"...)
}

// Tag is one key=value label of a series beyond its device and metric.
type Tag struct {
	Key, Value string
}

// SortTags sorts tags by key in place; series identity depends on sorted tags.
func SortTags(tags []Tag) {
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
}

// Reading is one value of one series at one instant.
type Reading struct {
	Device string
	Metric string
	Tags   []Tag // sorted by key; may be nil
	Time   int64 // Unix milliseconds
	Value  Value
}

// SeriesKey is the canonical identity of a series: device, metric and sorted
// tags joined by separators that cannot appear in valid names.
func (r *Reading) SeriesKey() string { return SeriesKey(r.Device, r.Metric, r.Tags) }

// SeriesKey builds the canonical identity of a series. Tags must be sorted.
func SeriesKey(device, metric string, tags []Tag) string {
	if len(tags) == 0 {
		return device + "\x00" + metric
	}
	return string(AppendSeriesKey(nil, device, metric, tags))
}

// AppendSeriesKey appends the series key to dst; hot paths look series up
// with it without allocating a string.
func AppendSeriesKey(dst []byte, device, metric string, tags []Tag) []byte {
	dst = append(dst, device...)
	dst = append(dst, 0)
	dst = append(dst, metric...)
	for _, t := range tags {
		dst = append(dst, 0)
		dst = append(dst, t.Key...)
		dst = append(dst, 1)
		dst = append(dst, t.Value...)
	}
	return dst
}

// ParseSeriesKey is the inverse of SeriesKey.
func ParseSeriesKey(key string) (device, metric string, tags []Tag, err error) {
	parts := strings.Split(key, "\x00")
	if len(parts) < 2 {
		return "", "", nil, fmt.Errorf("series key %q: missing metric", key)
	}
	for _, p := range parts[2:] {
		k, v, ok := strings.Cut(p, "\x01")
		if !ok {
			return "", "", nil, fmt.Errorf("series key %q: bad tag %q", key, p)
		}
		tags = append(tags, Tag{Key: k, Value: v})
	}
	return parts[0], parts[1], tags, nil
}

// MaxNameLen bounds device ids, metric names, tag keys and tag values.
const MaxNameLen = 256

// ValidName reports why a device, metric or tag name is unusable, or nil.
// Names are non-empty UTF-8 without control characters (bytes < 0x20, which
// also keeps the series-key separators out) and at most MaxNameLen bytes.
func ValidName(s string) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("name longer than %d bytes", MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fmt.Errorf("name %q has a control character", s)
		}
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("name %q is not valid UTF-8", s)
	}
	return nil
}

// Validate checks that a reading can be stored.
func (r *Reading) Validate() error {
	if err := ValidName(r.Device); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	if err := ValidName(r.Metric); err != nil {
		return fmt.Errorf("metric: %w", err)
	}
	for i, t := range r.Tags {
		if err := ValidName(t.Key); err != nil {
			return fmt.Errorf("tag key: %w", err)
		}
		if err := ValidName(t.Value); err != nil {
			return fmt.Errorf("tag %s: %w", t.Key, err)
		}
		if i > 0 && r.Tags[i-1].Key >= t.Key {
			return fmt.Errorf("tags not sorted or duplicated at %q", t.Key)
		}
	}
	if !r.Value.Valid() {
		return fmt.Errorf("invalid value")
	}
	return nil
}
