package chunk

import "encoding/binary"

// bitWriter appends a big-endian (most significant bit first) bit stream to b.
type bitWriter struct {
	b   []byte
	acc uint64 // the low n bits are pending, n < 8 between calls
	n   uint
}

func (w *bitWriter) writeBit(bit uint64) { w.writeBits(bit, 1) }

// writeBits writes the low k bits of v, k <= 64.
func (w *bitWriter) writeBits(v uint64, k uint) {
	if k > 32 {
		w.writeBits(v>>32, k-32)
		k = 32
	}
	w.acc = w.acc<<k | v&(1<<k-1)
	w.n += k
	for w.n >= 8 {
		w.n -= 8
		w.b = append(w.b, byte(w.acc>>w.n))
	}
	w.acc &= 1<<w.n - 1
}

// finish pads the last byte with zero bits and returns the buffer.
func (w *bitWriter) finish() []byte {
	if w.n > 0 {
		w.b = append(w.b, byte(w.acc<<(8-w.n)))
		w.acc, w.n = 0, 0
	}
	return w.b
}

// bitReader reads a stream written by bitWriter. Reads past the end fail.
type bitReader struct {
	b   []byte
	i   int    // next byte of b to load into acc
	acc uint64 // the top n bits are the next bits of the stream, the rest zero
	n   uint
}

func (r *bitReader) refill() {
	if r.i+8 <= len(r.b) {
		whole := (64 - r.n) >> 3
		keep := r.n + whole<<3
		r.acc |= binary.BigEndian.Uint64(r.b[r.i:]) >> r.n
		r.acc &= ^uint64(0) << (64 - keep)
		r.i += int(whole)
		r.n = keep
		return
	}
	for r.n <= 56 && r.i < len(r.b) {
		r.acc |= uint64(r.b[r.i]) << (56 - r.n)
		r.n += 8
		r.i++
	}
}

func (r *bitReader) readBit() (uint64, bool) {
	if r.n == 0 {
		r.refill()
		if r.n == 0 {
			return 0, false
		}
	}
	v := r.acc >> 63
	r.acc <<= 1
	r.n--
	return v, true
}

// readBits reads k bits, 1 <= k <= 64.
func (r *bitReader) readBits(k uint) (uint64, bool) {
	if r.n < k {
		r.refill()
	}
	if r.n >= k {
		v := r.acc >> (64 - k)
		r.acc <<= k
		r.n -= k
		return v, true
	}
	// Only reachable for k > 56: take what acc holds, then the rest.
	hi := r.n
	if hi == 0 {
		return 0, false
	}
	v := r.acc >> (64 - hi)
	r.acc, r.n = 0, 0
	r.refill()
	lo := k - hi
	if r.n < lo {
		return 0, false
	}
	v = v<<lo | r.acc>>(64-lo)
	r.acc <<= lo
	r.n -= lo
	return v, true
}

// done reports whether every byte was consumed and the padding bits are zero.
func (r *bitReader) done() bool { return r.i == len(r.b) && r.n < 8 && r.acc == 0 }
