package codec

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgevault/edgevault/point"
)

// BinarySpec configures a binary contract: fixed fields at byte offsets.
type BinarySpec struct {
	// Length is the exact payload length in bytes; 0 requires only that
	// the payload covers every field.
	Length int `yaml:"length,omitempty" json:"length,omitempty"`
	// Endian is the default byte order of the fields: big (default) or
	// little.
	Endian    string        `yaml:"endian,omitempty" json:"endian,omitempty"`
	Fields    []BinaryField `yaml:"fields" json:"fields"`
	Timestamp *BinaryTime   `yaml:"timestamp,omitempty" json:"timestamp,omitempty"`
}

// BinaryField is one value in a binary payload. Fields may overlap (a byte
// read whole and as bits, say).
type BinaryField struct {
	Metric string `yaml:"metric" json:"metric"`
	// Offset is the byte position of the field.
	Offset int `yaml:"offset" json:"offset"`
	// Type is u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, bits or bool.
	Type   string `yaml:"type" json:"type"`
	Endian string `yaml:"endian,omitempty" json:"endian,omitempty"`
	// Bit is the lowest bit of a bits or bool field. A bool reads one bit
	// of the byte at Offset (0 = least significant). A bits field reads the
	// unsigned integer of ceil((Bit+Bits)/8) bytes at Offset in the field's
	// byte order and takes Bits bits (1..63) from its bit Bit up; on one
	// byte, bit 0 is again the least significant.
	Bit  int `yaml:"bit,omitempty" json:"bit,omitempty"`
	Bits int `yaml:"bits,omitempty" json:"bits,omitempty"`
	// Scale and ValueOffset give value = raw*Scale + ValueOffset; either
	// one makes the reading a float. A zero Scale means 1.
	Scale       float64 `yaml:"scale,omitempty" json:"scale,omitempty"`
	ValueOffset float64 `yaml:"value_offset,omitempty" json:"value_offset,omitempty"`
	// Unit documents the metric; it is not stored with readings.
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty"`
}

// BinaryTime locates the reading time in a binary payload.
type BinaryTime struct {
	Offset int    `yaml:"offset" json:"offset"`
	Type   string `yaml:"type" json:"type"` // u32, u64 or i64
	Endian string `yaml:"endian,omitempty" json:"endian,omitempty"`
	Unit   string `yaml:"unit,omitempty" json:"unit,omitempty"` // s (default), ms, us or ns
}

var typeSize = map[string]int{
	"u8": 1, "i8": 1, "u16": 2, "i16": 2, "u32": 4, "i32": 4, "f32": 4,
	"u64": 8, "i64": 8, "f64": 8, "bits": 0, "bool": 0,
}

type binField struct {
	BinaryField
	size  int
	order binary.ByteOrder
	float bool // scale or value_offset set
}

type binaryDecoder struct {
	length int
	minLen int
	fields []binField
	ts     *binField
	tsUnit string
}

func byteOrder(e, def string) (binary.ByteOrder, error) {
	switch e {
	case "":
		return byteOrder(def, "big")
	case "big":
		return binary.BigEndian, nil
	case "little":
		return binary.LittleEndian, nil
	}
	return nil, fmt.Errorf("endian: want big or little, got %q", e)
}

func compileBinary(spec *BinarySpec) (*binaryDecoder, error) {
	if spec == nil || len(spec.Fields) == 0 {
		return nil, fmt.Errorf("binary.fields: at least one field is required")
	}
	if _, err := byteOrder(spec.Endian, "big"); err != nil {
		return nil, fmt.Errorf("binary.%w", err)
	}
	if spec.Length < 0 || spec.Length > MaxPayload {
		return nil, fmt.Errorf("binary.length: %d is out of range", spec.Length)
	}
	d := &binaryDecoder{length: spec.Length}
	seen := map[string]bool{}
	for i, f := range spec.Fields {
		bf, err := compileBinField(f, spec.Endian)
		if err != nil {
			return nil, fmt.Errorf("binary.fields[%d] (%s): %w", i, f.Metric, err)
		}
		if seen[f.Metric] {
			return nil, fmt.Errorf("binary.fields[%d]: metric %q appears twice", i, f.Metric)
		}
		seen[f.Metric] = true
		d.fields = append(d.fields, bf)
		d.minLen = max(d.minLen, bf.Offset+bf.size)
	}
	if spec.Timestamp != nil {
		if err := d.compileTime(spec.Timestamp, spec.Endian); err != nil {
			return nil, fmt.Errorf("binary.timestamp: %w", err)
		}
	}
	if d.length != 0 && d.minLen > d.length {
		return nil, fmt.Errorf("binary.length: %d bytes, but the fields need %d", d.length, d.minLen)
	}
	return d, nil
}

func compileBinField(f BinaryField, endian string) (binField, error) {
	if err := point.ValidName(f.Metric); err != nil {
		return binField{}, fmt.Errorf("metric: %w", err)
	}
	size, ok := typeSize[f.Type]
	if !ok {
		return binField{}, fmt.Errorf("type: unknown %q (want u8..u64, i8..i64, f32, f64, bits or bool)", f.Type)
	}
	order, err := byteOrder(f.Endian, endian)
	if err != nil {
		return binField{}, err
	}
	if f.Offset < 0 || f.Offset >= MaxPayload {
		return binField{}, fmt.Errorf("offset: %d is out of range", f.Offset)
	}
	bf := binField{BinaryField: f, size: size, order: order, float: f.Scale != 0 || f.ValueOffset != 0}
	switch f.Type {
	case "bool":
		if f.Bit < 0 || f.Bit > 7 {
			return binField{}, fmt.Errorf("bit: %d is outside 0..7", f.Bit)
		}
		bf.size = 1
		if bf.float {
			return binField{}, fmt.Errorf("scale: does not apply to bool")
		}
	case "bits":
		if f.Bits < 1 || f.Bit < 0 || f.Bit+f.Bits > 64 || f.Bits > 63 {
			return binField{}, fmt.Errorf("bits: bit %d width %d does not fit (width 1..63, bit+width <= 64)", f.Bit, f.Bits)
		}
		bf.size = (f.Bit + f.Bits + 7) / 8
	default:
		if f.Bit != 0 || f.Bits != 0 {
			return binField{}, fmt.Errorf("bit: only for bits and bool fields")
		}
	}
	return bf, nil
}

func (d *binaryDecoder) compileTime(t *BinaryTime, endian string) error {
	switch t.Type {
	case "u32", "u64", "i64":
	default:
		return fmt.Errorf("type: want u32, u64 or i64, got %q", t.Type)
	}
	unit := t.Unit
	switch unit {
	case "":
		unit = UnitS
	case UnitS, UnitMS, UnitUS, UnitNS:
	default:
		return fmt.Errorf("unit: want s, ms, us or ns, got %q", t.Unit)
	}
	bf, err := compileBinField(BinaryField{Metric: "timestamp", Offset: t.Offset, Type: t.Type, Endian: t.Endian}, endian)
	if err != nil {
		return err
	}
	d.ts, d.tsUnit = &bf, unit
	d.minLen = max(d.minLen, bf.Offset+bf.size)
	return nil
}

func (d *binaryDecoder) decode(m Message, device string, tags []point.Tag) (Decoded, error) {
	if err := checkDevice(device); err != nil {
		return Decoded{}, err
	}
	b := m.Payload
	if d.length != 0 && len(b) != d.length {
		return Decoded{}, fmt.Errorf("payload: %w: %d bytes, want %d", ErrLength, len(b), d.length)
	}
	if len(b) < d.minLen {
		return Decoded{}, fmt.Errorf("payload: %w: %d bytes, want at least %d", ErrLength, len(b), d.minLen)
	}
	t := m.Received
	if d.ts != nil {
		raw := readUint(b[d.ts.Offset:], d.ts.size, d.ts.order)
		if d.ts.Type == "u64" && raw > math.MaxInt64 {
			return Decoded{}, fmt.Errorf("timestamp at offset %d: %d is out of range", d.ts.Offset, raw)
		}
		ms, err := epochToMS(int64(raw), d.tsUnit)
		if err != nil {
			return Decoded{}, fmt.Errorf("timestamp at offset %d: %w", d.ts.Offset, err)
		}
		t = ms
	}
	out := make([]point.Reading, len(d.fields))
	for i := range d.fields {
		f := &d.fields[i]
		out[i] = point.Reading{Device: device, Metric: f.Metric, Tags: tags, Time: t, Value: f.read(b)}
	}
	return Decoded{Readings: out}, nil
}

func readUint(b []byte, size int, order binary.ByteOrder) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(order.Uint16(b))
	case 4:
		return uint64(order.Uint32(b))
	case 8:
		return order.Uint64(b)
	}
	// Bit fields span 1..8 bytes.
	var v uint64
	if order == binary.BigEndian {
		for i := 0; i < size; i++ {
			v = v<<8 | uint64(b[i])
		}
		return v
	}
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// read decodes the field from a payload already checked to be long enough.
func (f *binField) read(b []byte) point.Value {
	raw := readUint(b[f.Offset:], f.size, f.order)
	var x float64
	switch f.Type {
	case "bool":
		return point.Bool(raw>>f.Bit&1 == 1)
	case "f32":
		x = float64(math.Float32frombits(uint32(raw)))
	case "f64":
		x = math.Float64frombits(raw)
	case "u64":
		if raw > math.MaxInt64 {
			x = float64(raw)
			break
		}
		fallthrough
	default:
		i := f.integer(raw)
		if !f.float {
			return point.Int(i)
		}
		x = float64(i)
	}
	if f.Scale != 0 {
		x *= f.Scale
	}
	return point.Float(x + f.ValueOffset)
}

// integer sign-extends or masks the raw bytes of an integer field.
func (f *binField) integer(raw uint64) int64 {
	switch f.Type {
	case "bits":
		return int64(raw >> f.Bit & (1<<f.Bits - 1))
	case "i8":
		return int64(int8(raw))
	case "i16":
		return int64(int16(raw))
	case "i32":
		return int64(int32(raw))
	}
	return int64(raw) // u8, u16, u32, u64 below 2^63, i64
}
