package chunk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/edgevault/edgevault/point"
)

// MaxPoints bounds the samples of one block. Decode rejects a larger count
// before allocating anything for it.
const MaxPoints = 1 << 20

const version = 1

// Encoding ids of the header; see doc.go.
const (
	encTimeDoD    = 1
	encFloatXOR   = 1
	encFloatDec   = 2
	encIntPacked  = 3
	encBoolBitmap = 4
	encBoolConst  = 5
	encStringDict = 6
)

var (
	// ErrCorrupt is wrapped by every error Decode and Header return for bad bytes.
	ErrCorrupt = errors.New("chunk: corrupt block")
	// ErrEmpty: Encode needs at least one sample.
	ErrEmpty = errors.New("chunk: empty block")
	// ErrTooMany: Encode got more than MaxPoints samples.
	ErrTooMany = errors.New("chunk: too many points")
	// ErrLength: Encode got different numbers of timestamps and values.
	ErrLength = errors.New("chunk: timestamps and values differ in length")
	// ErrOrder: Encode got timestamps that do not strictly increase.
	ErrOrder = errors.New("chunk: timestamps not strictly increasing")
	// ErrKind: Encode got an invalid kind or a value of another kind, or
	// DecodeBits a string block.
	ErrKind = errors.New("chunk: wrong value kind")
)

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// Encode appends the encoded block to dst. ts must strictly increase,
// len(ts) == len(vals) >= 1, and every value must be of the given kind.
func Encode(dst []byte, kind point.Kind, ts []int64, vals []point.Value) ([]byte, error) {
	if err := check(kind, ts, vals); err != nil {
		return dst, err
	}
	dst = append(dst, version, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	dst = binary.AppendVarint(dst, ts[0])
	dst = binary.AppendVarint(dst, ts[len(ts)-1])
	encAt := len(dst) + 1
	dst = append(dst, encTimeDoD, 0)
	dst = binary.AppendUvarint(dst, uint64(timesLen(ts)))
	dst = appendTimes(dst, ts)
	var enc byte
	switch kind {
	case point.KindFloat:
		dst, enc = appendFloats(dst, vals)
	case point.KindInt:
		dst, enc = appendIntValues(dst, vals), encIntPacked
	case point.KindBool:
		dst, enc = appendBools(dst, vals)
	case point.KindString:
		dst, enc = appendStrings(dst, vals), encStringDict
	}
	dst[encAt] = enc
	return dst, nil
}

func check(kind point.Kind, ts []int64, vals []point.Value) error {
	switch {
	case len(ts) != len(vals):
		return fmt.Errorf("encode %d timestamps, %d values: %w", len(ts), len(vals), ErrLength)
	case len(ts) == 0:
		return ErrEmpty
	case len(ts) > MaxPoints:
		return fmt.Errorf("encode %d points: %w", len(ts), ErrTooMany)
	case kind < point.KindFloat || kind > point.KindString:
		return fmt.Errorf("encode kind %d: %w", kind, ErrKind)
	}
	for i := range ts {
		if i > 0 && ts[i] <= ts[i-1] {
			return fmt.Errorf("encode at %d (%d after %d): %w", i, ts[i], ts[i-1], ErrOrder)
		}
		if vals[i].Kind() != kind {
			return fmt.Errorf("encode at %d: %s value in %s block: %w", i, vals[i].Kind(), kind, ErrKind)
		}
	}
	return nil
}

// header is the parsed fixed part of a block.
type header struct {
	kind       point.Kind
	count      int
	minT, maxT int64
	n          int // bytes read
}

func parseHeader(b []byte) (header, error) {
	var h header
	if len(b) < 2 {
		return h, corrupt("header: truncated")
	}
	if b[0] != version {
		return h, corrupt("header: unknown version %d", b[0])
	}
	h.kind = point.Kind(b[1])
	if h.kind < point.KindFloat || h.kind > point.KindString {
		return h, corrupt("header: unknown kind %d", b[1])
	}
	h.n = 2
	count, n := binary.Uvarint(b[h.n:])
	if n <= 0 || count == 0 || count > MaxPoints {
		return h, corrupt("header: bad count")
	}
	h.count, h.n = int(count), h.n+n
	if h.minT, n = binary.Varint(b[h.n:]); n <= 0 {
		return h, corrupt("header: bad min time")
	}
	h.n += n
	if h.maxT, n = binary.Varint(b[h.n:]); n <= 0 {
		return h, corrupt("header: bad max time")
	}
	h.n += n
	// count-1 increasing steps from minT cannot end at or before it, nor pass it.
	if (h.count == 1) != (h.minT == h.maxT) || h.maxT < h.minT {
		return h, corrupt("header: time range %d..%d for %d points", h.minT, h.maxT, h.count)
	}
	return h, nil
}

// Header reads only the header of a block: its kind, number of samples and
// first and last timestamps.
func Header(b []byte) (kind point.Kind, count int, minT, maxT int64, err error) {
	h, err := parseHeader(b)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	return h.kind, h.count, h.minT, h.maxT, nil
}

// Decode appends the block's samples to ts and vals and returns them with the
// block's kind. On error it returns ts and vals as they were given.
func Decode(b []byte, ts []int64, vals []point.Value) (point.Kind, []int64, []point.Value, error) {
	return decode(b, ts, vals, true, func(h header, enc byte, col []byte, vals []point.Value) ([]point.Value, error) {
		if h.kind == point.KindString && enc == encStringDict {
			return decodeStrings(col, h.count, vals)
		}
		err := decodeBits(h.kind, enc, col, h.count, func(bs []uint64) {
			for _, u := range bs {
				vals = append(vals, point.FromBits(h.kind, u))
			}
		})
		return vals, err
	})
}

// DecodeBits is Decode for blocks of numbers and bools: it appends the
// values' bits (point.Value.FloatBits; point.FromBits(kind, bits) gives the
// value back) to bits, columns without pointers for the garbage collector
// to scan. A string block is an error wrapping ErrKind. On error it returns
// ts and bits as they were given.
func DecodeBits(b []byte, ts []int64, bits []uint64) (point.Kind, []int64, []uint64, error) {
	return decode(b, ts, bits, false, func(h header, enc byte, col []byte, bits []uint64) ([]uint64, error) {
		err := decodeBits(h.kind, enc, col, h.count, func(bs []uint64) { bits = append(bits, bs...) })
		return bits, err
	})
}

// decode reads the header and the timestamps of block b, appending them to
// ts, then has values append the values of the column col in encoding enc
// to vals, grown by the block's count. A string block is an error wrapping
// ErrKind unless strings is set. On error it returns ts and vals as they
// were given.
func decode[V any](b []byte, ts []int64, vals []V, strings bool,
	values func(h header, enc byte, col []byte, vals []V) ([]V, error)) (point.Kind, []int64, []V, error) {
	h, err := parseHeader(b)
	if err != nil {
		return 0, ts, vals, err
	}
	if h.kind == point.KindString && !strings {
		return 0, ts, vals, fmt.Errorf("decode bits of a string block: %w", ErrKind)
	}
	ts0, vals0 := len(ts), len(vals)
	enc, col, ts, err := decodeTimesOf(b[h.n:], h, ts)
	if err != nil {
		return 0, ts, vals, err
	}
	if vals, err = values(h, enc, col, slices.Grow(vals, h.count)); err != nil {
		return 0, ts[:ts0], vals[:vals0], err
	}
	return h.kind, ts, vals, nil
}

// decodeTimesOf reads the encodings after header h and the timestamp
// column from b, the rest of the block, and appends the timestamps to ts.
// It returns the value encoding and column. On error it returns ts as it
// was given.
func decodeTimesOf(b []byte, h header, ts []int64) (valEnc byte, valCol []byte, _ []int64, err error) {
	if len(b) < 2 || b[0] != encTimeDoD {
		return 0, nil, ts, corrupt("header: bad encodings")
	}
	valEnc = b[1]
	tsLen, n := binary.Uvarint(b[2:])
	if n <= 0 || tsLen > uint64(len(b)-2-n) {
		return 0, nil, ts, corrupt("header: bad timestamp column length")
	}
	tsCol, valCol := b[2+n:2+n+int(tsLen)], b[2+n+int(tsLen):]
	// Every timestamp after the first costs at least one bit.
	if uint64(h.count-1) > 8*tsLen {
		return 0, nil, ts, corrupt("header: %d points in %d bytes", h.count, tsLen)
	}
	ts0 := len(ts)
	if ts, err = decodeTimes(tsCol, h.count, h.minT, h.maxT, slices.Grow(ts, h.count)); err != nil {
		return 0, nil, ts[:ts0], err
	}
	return valEnc, valCol, ts, nil
}

// decodeBits decodes a column of numbers or bools, handing their bits to
// emit at most frameLen at a time. emit must neither keep nor change the
// slice.
func decodeBits(kind point.Kind, enc byte, col []byte, count int, emit func([]uint64)) error {
	switch {
	case kind == point.KindFloat && enc == encFloatXOR:
		return decodeXOR(col, count, emit)
	case kind == point.KindFloat && enc == encFloatDec:
		return decodeDecimal(col, count, emit)
	case kind == point.KindInt && enc == encIntPacked:
		return decodeInts(col, count, emit)
	case kind == point.KindBool && (enc == encBoolBitmap || enc == encBoolConst):
		return decodeBools(col, enc, count, emit)
	}
	return corrupt("header: encoding %d for %s values", enc, kind)
}
