package chunk

import "math/bits"

// Delta-of-delta buckets after the first timestamp (which the header holds):
// a prefix of up to four bits picks how many bits of two's complement follow.
//
//	0                   dod == 0
//	10   + 7 bits       -64 <= dod < 64
//	110  + 14 bits      -8192 <= dod < 8192
//	1110 + 24 bits      -2^23 <= dod < 2^23
//	1111 + 64 bits      any
var dodBits = [4]uint{7, 14, 24, 64}

func dodBucket(dod int64) int {
	for i, n := range dodBits[:3] {
		if lim := int64(1) << (n - 1); -lim <= dod && dod < lim {
			return i
		}
	}
	return 3
}

// timesLen is the length in bytes of the timestamp column for ts.
func timesLen(ts []int64) int {
	nbits, delta := 0, int64(0)
	for i := 1; i < len(ts); i++ {
		d := ts[i] - ts[i-1]
		if dod := d - delta; dod == 0 {
			nbits++
		} else {
			b := dodBucket(dod)
			nbits += min(b+2, 4) + int(dodBits[b])
		}
		delta = d
	}
	return (nbits + 7) / 8
}

// appendTimes writes the delta-of-delta bit stream of ts[1:].
// Differences wrap around like the decoder's, so any increasing ts works.
func appendTimes(dst []byte, ts []int64) []byte {
	w := bitWriter{b: dst}
	var delta int64
	for i := 1; i < len(ts); i++ {
		d := ts[i] - ts[i-1]
		dod := d - delta
		delta = d
		if dod == 0 {
			w.writeBit(0)
			continue
		}
		b := dodBucket(dod)
		switch b {
		case 0:
			w.writeBits(0b10, 2)
		case 1:
			w.writeBits(0b110, 3)
		case 2:
			w.writeBits(0b1110, 4)
		default:
			w.writeBits(0b1111, 4)
		}
		w.writeBits(uint64(dod), dodBits[b])
	}
	return w.finish()
}

// decodeTimes appends count timestamps starting at minT and checks that they
// strictly increase and end at maxT.
func decodeTimes(col []byte, count int, minT, maxT int64, ts []int64) ([]int64, error) {
	r := bitReader{b: col}
	t, delta := minT, int64(0)
	ts = append(ts, t)
	for i := 1; i < count; {
		if r.n == 0 {
			r.refill()
		}
		// Regular times are runs of 0 codes (dod == 0): take a run at once.
		if z := min(uint(bits.LeadingZeros64(r.acc)), r.n, uint(count-i)); z > 0 {
			r.acc <<= z
			r.n -= z
			i += int(z)
			for range z {
				next := t + delta
				if next <= t {
					return ts, corrupt("timestamps: not increasing")
				}
				t = next
				ts = append(ts, t)
			}
			continue
		}
		dod, ok := readDoD(&r)
		if !ok {
			return ts, corrupt("timestamps: truncated")
		}
		delta += dod
		next := t + delta
		if next <= t {
			return ts, corrupt("timestamps: not increasing")
		}
		t = next
		ts = append(ts, t)
		i++
	}
	if !r.done() {
		return ts, corrupt("timestamps: trailing bytes")
	}
	if t != maxT {
		return ts, corrupt("timestamps: last %d, header says %d", t, maxT)
	}
	return ts, nil
}

// readDoD reads one code: a prefix of up to four 1 bits ended by a 0 bit
// (or not, after four), then the bits of dod that prefix announces.
func readDoD(r *bitReader) (int64, bool) {
	if r.n < 4 {
		r.refill()
	}
	// The bits of acc past n are 0, so the count stops at n.
	ones := min(uint(bits.LeadingZeros64(^r.acc)), 4)
	prefix := ones + 1 // the 1 bits and the 0 that ends them
	if ones == 4 {
		prefix = 4
	}
	if prefix > r.n {
		return 0, false
	}
	r.acc <<= prefix
	r.n -= prefix
	if ones == 0 {
		return 0, true
	}
	n := dodBits[ones-1] // prefixes 10, 110, 1110 stop on a 0 bit; 1111 does not
	v, ok := r.readBits(n)
	if !ok {
		return 0, false
	}
	return int64(v<<(64-n)) >> (64 - n), true // sign-extend
}
