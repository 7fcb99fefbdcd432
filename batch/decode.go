package batch

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgevault/edgevault/point"
)

// reader decodes a payload; the first error sticks and later reads return
// zero values, so callers check err once per section.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrBadBatch, fmt.Sprintf(format, args...))
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count of items that each take at least perItem/8 bytes.
func (r *reader) count(what string, eighths int) int {
	v := r.uvarint()
	if v > uint64(len(r.b))*8/uint64(eighths) {
		r.fail("%s count %d exceeds the remaining %d bytes", what, v, len(r.b))
		return 0
	}
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) str() []byte { return r.bytes(r.count("string", 8)) }

func decodePayload(raw []byte, b *Batch, maxItems int) error {
	r := &reader{b: raw}
	ng := r.count("group", 8*4)
	for range ng {
		if err := decodeGroup(r, b, maxItems); err != nil {
			return err
		}
	}
	nr := r.count("record", 8)
	if r.err == nil && len(b.Readings)+nr > maxItems {
		return fmt.Errorf("%w: more than %d items", ErrTooLarge, maxItems)
	}
	if nr > 0 {
		b.Records = make([][]byte, 0, nr)
	}
	for range nr {
		b.Records = append(b.Records, append([]byte(nil), r.str()...))
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

func decodeGroup(r *reader, b *Batch, maxItems int) error {
	dev, metric := string(r.str()), string(r.str())
	nt := r.count("tag", 16)
	var tags []point.Tag
	if nt > 0 {
		tags = make([]point.Tag, nt)
	}
	for i := range tags {
		tags[i] = point.Tag{Key: string(r.str()), Value: string(r.str())}
	}
	kind := point.Kind(0)
	if k := r.bytes(1); k != nil {
		kind = point.Kind(k[0])
	}
	n := r.count("point", 8) // every point has at least one time byte
	if r.err != nil {
		return r.err
	}
	if kind < point.KindFloat || kind > point.KindString {
		r.fail("kind %d", kind)
		return r.err
	}
	if len(b.Readings)+n > maxItems {
		return fmt.Errorf("%w: more than %d items", ErrTooLarge, maxItems)
	}
	start := len(b.Readings)
	b.Readings = growReadings(b.Readings, n)
	rs := b.Readings[start:]
	var prevT, prevD int64
	for j := range rs {
		rs[j] = point.Reading{Device: dev, Metric: metric, Tags: tags}
		switch j {
		case 0:
			prevT = r.varint()
		default:
			prevD += r.varint()
			prevT += prevD
		}
		rs[j].Time = prevT
	}
	decodeValues(r, kind, rs)
	return r.err
}

func growReadings(rs []point.Reading, n int) []point.Reading {
	if cap(rs)-len(rs) < n {
		grown := make([]point.Reading, len(rs), len(rs)+max(n, len(rs)))
		copy(grown, rs)
		rs = grown
	}
	return rs[:len(rs)+n]
}

func decodeValues(r *reader, kind point.Kind, rs []point.Reading) {
	switch kind {
	case point.KindFloat:
		decodeFloats(r, rs)
	case point.KindInt:
		var v int64
		for j := range rs {
			v += r.varint()
			rs[j].Value = point.Int(v)
		}
	case point.KindBool:
		bm := r.bytes((len(rs) + 7) / 8)
		for j := range rs {
			rs[j].Value = point.Bool(bm != nil && bm[j/8]&(1<<(j%8)) != 0)
		}
	case point.KindString:
		for j := range rs {
			rs[j].Value = point.String(string(r.str()))
		}
	}
}

func decodeFloats(r *reader, rs []point.Reading) {
	mode := r.bytes(1)
	switch {
	case mode == nil:
		return
	case mode[0] == 0:
		raw := r.bytes(8 * len(rs))
		var bits uint64
		for j := range rs {
			if raw != nil {
				bits ^= binary.LittleEndian.Uint64(raw[8*j:])
			}
			rs[j].Value = point.Float(math.Float64frombits(bits))
		}
	case int(mode[0]) <= len(pow10):
		scale := pow10[mode[0]-1]
		var x int64
		for j := range rs {
			x += r.varint()
			rs[j].Value = point.Float(float64(x) / scale)
		}
	default:
		r.fail("float mode %d", mode[0])
	}
}
