package store

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgevault/edgevault/point"
)

// walPoint is one point of a write-ahead record.
type walPoint struct {
	sid uint64
	t   int64
	v   point.Value
}

// walVersion is the first byte of every WAL record.
const walVersion = 1

// encodeWAL appends the record for pts to dst. Layout (FORMAT.md):
// version(1) count(uvarint) then per point sid(uvarint) zigzag delta of t
// against the previous point (varint) and a value.
func encodeWAL(dst []byte, pts []walPoint) []byte {
	dst = append(dst, walVersion)
	dst = binary.AppendUvarint(dst, uint64(len(pts)))
	var prev int64
	for _, p := range pts {
		dst = binary.AppendUvarint(dst, p.sid)
		dst = binary.AppendVarint(dst, p.t-prev)
		prev = p.t
		dst = appendValue(dst, p.v)
	}
	return dst
}

// decodeWAL parses a record written by encodeWAL.
func decodeWAL(b []byte) ([]walPoint, error) {
	if len(b) == 0 || b[0] != walVersion {
		return nil, fmt.Errorf("wal record: bad version: %w", ErrCorrupt)
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("wal record: bad count: %w", ErrCorrupt)
	}
	b = b[1+k:]
	pts := make([]walPoint, 0, n)
	var prev int64
	for i := uint64(0); i < n; i++ {
		sid, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return nil, fmt.Errorf("wal record: point %d: %w", i, ErrCorrupt)
		}
		d, k2 := binary.Varint(b[k1:])
		if k2 <= 0 {
			return nil, fmt.Errorf("wal record: point %d: %w", i, ErrCorrupt)
		}
		v, rest, err := readValue(b[k1+k2:])
		if err != nil {
			return nil, fmt.Errorf("wal record: point %d: %w", i, err)
		}
		prev += d
		pts = append(pts, walPoint{sid: sid, t: prev, v: v})
		b = rest
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("wal record: %d trailing bytes: %w", len(b), ErrCorrupt)
	}
	return pts, nil
}

// appendValue writes kind(1) then: float 8 bytes LE, int zigzag varint,
// bool 1 byte, string uvarint length and bytes.
func appendValue(dst []byte, v point.Value) []byte {
	dst = append(dst, byte(v.Kind()))
	switch v.Kind() {
	case point.KindFloat:
		dst = binary.LittleEndian.AppendUint64(dst, v.FloatBits())
	case point.KindInt:
		dst = binary.AppendVarint(dst, v.Int())
	case point.KindBool:
		if v.Bool() {
			return append(dst, 1)
		}
		return append(dst, 0)
	case point.KindString:
		dst = binary.AppendUvarint(dst, uint64(len(v.Str())))
		dst = append(dst, v.Str()...)
	}
	return dst
}

func readValue(b []byte) (point.Value, []byte, error) {
	if len(b) == 0 {
		return point.Value{}, nil, ErrCorrupt
	}
	kind, b := point.Kind(b[0]), b[1:]
	switch kind {
	case point.KindFloat:
		if len(b) < 8 {
			return point.Value{}, nil, ErrCorrupt
		}
		return point.Float(math.Float64frombits(binary.LittleEndian.Uint64(b))), b[8:], nil
	case point.KindInt:
		i, k := binary.Varint(b)
		if k <= 0 {
			return point.Value{}, nil, ErrCorrupt
		}
		return point.Int(i), b[k:], nil
	case point.KindBool:
		if len(b) < 1 || b[0] > 1 {
			return point.Value{}, nil, ErrCorrupt
		}
		return point.Bool(b[0] == 1), b[1:], nil
	case point.KindString:
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return point.Value{}, nil, ErrCorrupt
		}
		return point.String(string(b[k : k+int(n)])), b[k+int(n):], nil
	}
	return point.Value{}, nil, ErrCorrupt
}
