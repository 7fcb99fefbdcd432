package chunk

import (
	"encoding/binary"

	"github.com/edgevault/edgevault/point"
)

func appendIntValues(dst []byte, vals []point.Value) []byte {
	ints := make([]int64, len(vals))
	for i, v := range vals {
		ints[i] = v.Int()
	}
	return appendInts(dst, ints)
}

// appendBools writes one byte when all values are equal, else a bitmap.
func appendBools(dst []byte, vals []point.Value) ([]byte, byte) {
	first := vals[0].Bool()
	same := true
	for _, v := range vals {
		same = same && v.Bool() == first
	}
	if same {
		if first {
			return append(dst, 1), encBoolConst
		}
		return append(dst, 0), encBoolConst
	}
	start := len(dst)
	dst = append(dst, make([]byte, (len(vals)+7)/8)...)
	for i, v := range vals {
		if v.Bool() {
			dst[start+i/8] |= 1 << (i % 8)
		}
	}
	return dst, encBoolBitmap
}

func decodeBools(col []byte, enc byte, count int, emit func([]uint64)) error {
	var out [frameLen]uint64
	if enc == encBoolConst {
		if len(col) != 1 || col[0] > 1 {
			return corrupt("bools: bad constant")
		}
		for i := range out {
			out[i] = uint64(col[0])
		}
		for left := count; left > 0; left -= len(out) {
			emit(out[:min(left, len(out))])
		}
		return nil
	}
	if len(col) != (count+7)/8 {
		return corrupt("bools: bitmap of %d bytes for %d points", len(col), count)
	}
	for i := 0; i < count; i += len(out) {
		frame := out[:min(count-i, len(out))]
		for j := range frame {
			frame[j] = uint64(col[(i+j)/8] >> ((i + j) % 8) & 1)
		}
		emit(frame)
	}
	return nil
}

// appendStrings writes the distinct strings in order of first appearance,
// then their indexes as packed frames.
func appendStrings(dst []byte, vals []point.Value) []byte {
	index := make(map[string]uint64)
	var dict []string
	idx := make([]uint64, len(vals))
	for i, v := range vals {
		j, ok := index[v.Str()]
		if !ok {
			j = uint64(len(dict))
			index[v.Str()] = j
			dict = append(dict, v.Str())
		}
		idx[i] = j
	}
	dst = binary.AppendUvarint(dst, uint64(len(dict)))
	for _, s := range dict {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return appendFrames(dst, idx)
}

func decodeStrings(col []byte, count int, vals []point.Value) ([]point.Value, error) {
	ndict, n := binary.Uvarint(col)
	// Each entry takes at least its length byte.
	if n <= 0 || ndict == 0 || ndict > uint64(count) || ndict > uint64(len(col)-n) {
		return vals, corrupt("strings: bad dictionary size")
	}
	col = col[n:]
	dict := make([]point.Value, ndict)
	for i := range dict {
		l, n := binary.Uvarint(col)
		if n <= 0 || l > uint64(len(col)-n) {
			return vals, corrupt("strings: bad entry %d", i)
		}
		dict[i] = point.String(string(col[n : n+int(l)]))
		col = col[n+int(l):]
	}
	var raw [frameLen]uint64
	for left := count; left > 0; {
		k := min(left, frameLen)
		left -= k
		var ok bool
		if len(col) < 1 {
			return vals, corrupt("strings: truncated")
		}
		if col, ok = unpackFrame(col[1:], raw[:k], uint(col[0])); !ok {
			return vals, corrupt("strings: bad frame")
		}
		for _, j := range raw[:k] {
			if j >= ndict {
				return vals, corrupt("strings: index %d of %d", j, ndict)
			}
			vals = append(vals, dict[j])
		}
	}
	if len(col) != 0 {
		return vals, corrupt("strings: trailing bytes")
	}
	return vals, nil
}
