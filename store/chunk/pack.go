package chunk

import (
	"encoding/binary"
	"math/bits"
)

// frameLen is the number of values that share one bit width in a packed column.
const frameLen = 128

// appendFrames bit-packs vs in frames of up to frameLen values, each frame a
// width byte followed by its values, least significant bit first.
func appendFrames(dst []byte, vs []uint64) []byte {
	for len(vs) > 0 {
		k := min(frameLen, len(vs))
		w := frameWidth(vs[:k])
		dst = append(dst, byte(w))
		dst = appendPacked(dst, vs[:k], w)
		vs = vs[k:]
	}
	return dst
}

// framesSize is the length appendFrames would add for vs.
func framesSize(vs []uint64) int {
	size := 0
	for len(vs) > 0 {
		k := min(frameLen, len(vs))
		size += 1 + (k*int(frameWidth(vs[:k]))+7)/8
		vs = vs[k:]
	}
	return size
}

func frameWidth(vs []uint64) uint {
	var or uint64
	for _, v := range vs {
		or |= v
	}
	return uint(bits.Len64(or))
}

func appendPacked(dst []byte, vs []uint64, w uint) []byte {
	if w == 0 {
		return dst
	}
	var acc uint64
	var n uint
	for _, v := range vs {
		acc |= v << n
		if n+w < 64 {
			n += w
			continue
		}
		dst = binary.LittleEndian.AppendUint64(dst, acc)
		acc = v >> (64 - n) // Go defines a shift by 64 as 0
		n = n + w - 64
	}
	for ; n > 0; n -= min(n, 8) {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst
}

// unpackFrame fills out with values of width w read from src and returns the
// bytes after the frame.
func unpackFrame(src []byte, out []uint64, w uint) ([]byte, bool) {
	need := (len(out)*int(w) + 7) / 8
	if w > 64 || len(src) < need {
		return nil, false
	}
	data := src[:need]
	if w == 0 {
		clear(out)
		return src, true
	}
	mask := uint64(1)<<w - 1
	bit := uint(0)
	for i := range out {
		idx := int(bit >> 3)
		if w <= 56 && idx+8 <= len(data) {
			out[i] = binary.LittleEndian.Uint64(data[idx:]) >> (bit & 7) & mask
		} else {
			out[i] = getBits(data, bit, w)
		}
		bit += w
	}
	return src[need:], true
}

func getBits(data []byte, bit, w uint) uint64 {
	var v uint64
	for got := uint(0); got < w; {
		sh := bit & 7
		take := min(8-sh, w-got)
		v |= (uint64(data[bit>>3]) >> sh & (1<<take - 1)) << got
		got += take
		bit += take
	}
	return v
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// Orders of an integer column: the residuals packed are first differences or
// second differences (delta of delta) of the values.
const (
	orderDelta = 1
	orderDoD   = 2
)

// residuals returns the zigzagged differences of the given order of vs[1:].
// Arithmetic wraps, so any int64 sequence round-trips.
func residuals(vs []int64, order int) []uint64 {
	res := make([]uint64, 0, max(len(vs)-1, 0))
	var prevDelta int64
	for i := 1; i < len(vs); i++ {
		d := vs[i] - vs[i-1]
		if order == orderDoD {
			res = append(res, zigzag(d-prevDelta))
			prevDelta = d
			continue
		}
		res = append(res, zigzag(d))
	}
	return res
}

// appendInts writes an integer column: order byte, varint first value,
// frames of residuals. It keeps the smaller of the two orders.
func appendInts(dst []byte, vs []int64) []byte {
	order, res := orderDelta, residuals(vs, orderDelta)
	if dod := residuals(vs, orderDoD); framesSize(dod) < framesSize(res) {
		order, res = orderDoD, dod
	}
	dst = append(dst, byte(order))
	dst = binary.AppendVarint(dst, vs[0])
	return appendFrames(dst, res)
}

// decodeInts reads an integer column of count values that fills col exactly,
// handing them to emit, as two's complement bits, a frame at a time. emit
// may overwrite the slice but not keep it.
func decodeInts(col []byte, count int, emit func([]uint64)) error {
	if len(col) < 1 || (col[0] != orderDelta && col[0] != orderDoD) {
		return corrupt("ints: bad order")
	}
	order := col[0]
	v, n := binary.Varint(col[1:])
	if n <= 0 {
		return corrupt("ints: bad first value")
	}
	src := col[1+n:]
	var raw [frameLen]uint64
	raw[0] = uint64(v)
	emit(raw[:1])
	var d int64
	for left := count - 1; left > 0; {
		k := min(left, frameLen)
		left -= k
		var ok bool
		if len(src) < 1 {
			return corrupt("ints: truncated")
		}
		if src, ok = unpackFrame(src[1:], raw[:k], uint(src[0])); !ok {
			return corrupt("ints: bad frame")
		}
		if order == orderDelta {
			for i, r := range raw[:k] {
				v += unzigzag(r)
				raw[i] = uint64(v)
			}
		} else {
			for i, r := range raw[:k] {
				d += unzigzag(r)
				v += d
				raw[i] = uint64(v)
			}
		}
		emit(raw[:k])
	}
	if len(src) != 0 {
		return corrupt("ints: trailing bytes")
	}
	return nil
}
