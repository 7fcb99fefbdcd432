package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/edgevault/edgevault/point"
)

var binaryMagic = []byte("GW")

// reader walks a binary envelope; the first error sticks and every later
// read returns zero values, so decoders check once per item.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %d: %s: %w", r.off, fmt.Sprintf(what, args...), ErrInvalid)
	}
}

func (r *reader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("%s: truncated", what)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("%s: bad uvarint", what)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	r.off += n
	return v
}

// time reads a uvarint timestamp that must fit an int64.
func (r *reader) time(what string) int64 {
	v := r.uvarint(what)
	if v > math.MaxInt64 {
		r.fail("%s: %d out of range", what, v)
		return 0
	}
	return int64(v)
}

// bytes reads a uvarint length and that many bytes, refusing lengths above
// limit before slicing.
func (r *reader) bytes(what string, limit int) []byte {
	n := r.uvarint(what)
	if r.err != nil {
		return nil
	}
	if n > uint64(limit) {
		r.fail("%s: %d bytes (limit %d)", what, n, limit)
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail("%s: truncated", what)
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

func (r *reader) string(what string, limit int) string { return string(r.bytes(what, limit)) }

func decodeBinary(b []byte) (Envelope, error) {
	r := &reader{b: b, off: len(binaryMagic)}
	if v := r.byte("version"); r.err == nil && v != Version {
		r.fail("version %d not supported", v)
	}
	env := Envelope{Type: Type(r.byte("type"))}
	if r.err == nil && !env.Type.valid() {
		r.fail("type %d", env.Type)
	}
	env.ID = r.string("id", MaxIDLen)
	env.Time = r.time("ts")
	switch env.Type {
	case TypeReport, TypeStatus:
		env.Readings = readReadings(r)
	case TypeGroup:
		env.Frames = readFrames(r)
	case TypeCommand:
		env.Device = r.string("device", point.MaxNameLen)
		env.Name = r.string("name", point.MaxNameLen)
		env.Params = readObject(r, "params")
	case TypeCommandResult:
		env.OK = readBool(r, "ok")
		env.Result = readObject(r, "result")
		env.Error = r.string("error", MaxText)
	}
	if r.err == nil && r.off != len(b) {
		r.fail("%d bytes after the body", len(b)-r.off)
	}
	return env, r.err
}

func readCount(r *reader) int {
	n := r.uvarint("count")
	if r.err == nil && n > MaxItems {
		r.err = fmt.Errorf("%d items: %w (limit %d)", n, ErrTooLarge, MaxItems)
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

func readReadings(r *reader) []Reading {
	n := readCount(r)
	if n == 0 {
		return nil
	}
	out := make([]Reading, 0, min(n, len(r.b)/4)) // each reading takes at least 4 bytes
	for i := 0; i < n && r.err == nil; i++ {
		rd := Reading{
			Sensor: r.string("sensor", point.MaxNameLen),
			Metric: r.string("metric", point.MaxNameLen),
			Time:   r.time("ts"),
		}
		rd.Value = readValue(r)
		out = append(out, rd)
	}
	return out
}

func readValue(r *reader) point.Value {
	switch k := point.Kind(r.byte("kind")); k {
	case point.KindFloat:
		if r.err != nil || len(r.b)-r.off < 8 {
			r.fail("float: truncated")
			return point.Value{}
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(r.b[r.off:]))
		r.off += 8
		return point.Float(f)
	case point.KindInt:
		return point.Int(r.varint("int"))
	case point.KindBool:
		return point.Bool(readBool(r, "bool"))
	case point.KindString:
		return point.String(r.string("string", MaxText))
	default:
		r.fail("kind %d", k)
		return point.Value{}
	}
}

func readBool(r *reader, what string) bool {
	c := r.byte(what)
	if c > 1 {
		r.fail("%s: %d is not 0 or 1", what, c)
	}
	return c == 1
}

func readFrames(r *reader) []Frame {
	n := readCount(r)
	if n == 0 {
		return nil
	}
	out := make([]Frame, 0, min(n, len(r.b)/5)) // each frame takes at least 5 bytes
	var contract string                         // shared by consecutive frames that name the same one
	for i := 0; i < n && r.err == nil; i++ {
		f := Frame{Sensor: r.string("sensor", point.MaxNameLen)}
		if c := r.bytes("contract", point.MaxNameLen); string(c) != contract {
			contract = string(c)
		}
		f.Contract = contract
		f.Time = r.time("ts")
		f.Data = r.bytes("frame", MaxFrame)
		out = append(out, f)
	}
	return out
}

func readObject(r *reader, what string) map[string]any {
	b := r.bytes(what, MaxObject)
	if r.err != nil || len(b) == 0 {
		return nil
	}
	m, err := parseObject(b)
	if err != nil {
		r.fail("%s: %v", what, err)
	}
	return m
}

// parseObject decodes a JSON object; an empty object is nil so both forms
// agree on "no params".
func parseObject(b []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil && string(b) != "null" {
		return nil, fmt.Errorf("not an object")
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func encodeBinary(e Envelope) []byte {
	b := make([]byte, 0, 64+binarySize(&e))
	b = append(b, binaryMagic...)
	b = append(b, Version, byte(e.Type))
	b = appendString(b, e.ID)
	b = binary.AppendUvarint(b, uint64(e.Time))
	switch e.Type {
	case TypeReport, TypeStatus:
		b = binary.AppendUvarint(b, uint64(len(e.Readings)))
		for i := range e.Readings {
			b = appendReading(b, &e.Readings[i])
		}
	case TypeGroup:
		b = binary.AppendUvarint(b, uint64(len(e.Frames)))
		for _, f := range e.Frames {
			b = appendString(b, f.Sensor)
			b = appendString(b, f.Contract)
			b = binary.AppendUvarint(b, uint64(f.Time))
			b = appendBytes(b, f.Data)
		}
	case TypeCommand:
		b = appendString(b, e.Device)
		b = appendString(b, e.Name)
		b = appendBytes(b, marshalObject(e.Params))
	case TypeCommandResult:
		b = append(b, boolByte(e.OK))
		b = appendBytes(b, marshalObject(e.Result))
		b = appendString(b, e.Error)
	}
	return b
}

func binarySize(e *Envelope) int {
	n := len(e.ID)
	for i := range e.Readings {
		n += 24 + len(e.Readings[i].Sensor) + len(e.Readings[i].Metric) + len(e.Readings[i].Value.Str())
	}
	for i := range e.Frames {
		n += 16 + len(e.Frames[i].Sensor) + len(e.Frames[i].Contract) + len(e.Frames[i].Data)
	}
	return n
}

func appendReading(b []byte, r *Reading) []byte {
	b = appendString(b, r.Sensor)
	b = appendString(b, r.Metric)
	b = binary.AppendUvarint(b, uint64(r.Time))
	b = append(b, byte(r.Value.Kind()))
	switch r.Value.Kind() {
	case point.KindFloat:
		b = binary.BigEndian.AppendUint64(b, r.Value.FloatBits())
	case point.KindInt:
		b = binary.AppendVarint(b, r.Value.Int())
	case point.KindBool:
		b = append(b, boolByte(r.Value.Bool()))
	case point.KindString:
		b = appendString(b, r.Value.Str())
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// marshalObject writes params or result as JSON; nil or empty is "".
func marshalObject(m map[string]any) []byte {
	if len(m) == 0 {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the encoding no longer than what was decoded
	if err := enc.Encode(m); err != nil {
		return nil // unmarshalable values (channels, NaN) cannot come from a decoded envelope
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
