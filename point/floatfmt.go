package point

import (
	"math"
	"slices"
	"strconv"
)

// appendFloat appends strconv.AppendFloat(dst, f, 'g', -1, 64) for a
// finite f. Sensor values are mostly decimals with a few places (21.25), and
// the shortest-digits search of strconv costs most of a large query answer;
// such a value is written from its integer form instead. It is the same
// text: when an integer n (|n| < 10^10, exact in a float64) has
// float64(n)/10^4 == f, the decimal n·10^-4 maps to f, and it is the
// only decimal of at most 4 places that does (below 10^6, two of them are
// at least 10^-4 apart, far more than float64's spacing there). So every
// shorter decimal mapping to f is it with trailing zeros dropped, and that
// is what strconv's shortest search finds; 'g' writes it without an
// exponent while 1e-4 <= |f| < 1e6.
// Everything else goes to strconv.
func appendFloat(dst []byte, f float64) []byte {
	a := math.Abs(f)
	if a < 1e-4 || a >= 1e6 {
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	// Any integer n passing the check will do, so a truncating conversion
	// of s±0.5 stands in for math.Round, which is not an instruction.
	s := f * 1e4
	n := int64(s + math.Copysign(0.5, s))
	if float64(n)/1e4 == f {
		return appendDecimal4(dst, n)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

// appendDecimal4 writes n·10^-4 (|n| < 10^10) with trailing zeros after
// the point, and a bare point, dropped.
func appendDecimal4(dst []byte, n int64) []byte {
	u, sign := uint64(n), 0
	if n < 0 {
		u, sign = -u, 1
	}
	ip, fp := u/10000, u%10000
	hi, lo := fp/100, fp%100
	var frac int // bytes kept of ".hilo": the point and the fraction digits
	switch {
	case fp == 0:
	case lo%10 != 0:
		frac = 5
	case lo != 0:
		frac = 4
	case hi%10 != 0:
		frac = 3
	default:
		frac = 2
	}
	digits := 1
	for x := ip; x >= 10; x /= 10 {
		digits++
	}
	dst, buf := spare(dst)
	i := sign + digits
	buf[i], buf[i+1], buf[i+2], buf[i+3], buf[i+4] = '.', pairs[2*hi], pairs[2*hi+1], pairs[2*lo], pairs[2*lo+1]
	end := i + frac
	for ip >= 100 {
		q := ip / 100
		r := ip - 100*q
		i -= 2
		buf[i], buf[i+1] = pairs[2*r], pairs[2*r+1]
		ip = q
	}
	if ip >= 10 {
		i -= 2
		buf[i], buf[i+1] = pairs[2*ip], pairs[2*ip+1]
	} else {
		i--
		buf[i] = byte('0' + ip)
	}
	if sign == 1 {
		buf[0] = '-'
	}
	return dst[:len(dst)+end]
}

// spare returns dst, grown if need be, and the first 24 bytes of its spare
// capacity. Writing a number there in place, then extending dst over it,
// saves appending it from a buffer: a call to memmove, and a stall while
// the bytes just stored one by one are loaded back together.
func spare(dst []byte) ([]byte, *[24]byte) {
	dst = slices.Grow(dst, 24)
	return dst, (*[24]byte)(dst[len(dst) : len(dst)+24])
}

// TimeAppender writes Unix millisecond timestamps in decimal, faster than
// strconv for a run of close ones (a query answer): the digits above the
// last six are kept from the previous timestamp while they do not change
// (1,000 s at 1 Hz), the last six are written after them from the
// digit-pair table, and the whole is appended in one copy. A one-day raw
// answer spent a fifth of its server time in strconv.AppendInt (about 29
// ns; go test -bench TimeAppender ./point/). The zero value is ready to
// use.
type TimeAppender struct {
	hi     int64    // t / 1e6 of the cached digits
	n      int      // number of cached digits; 0 when none are
	digits [16]byte // the digits of hi (hi < 10^13)
}

const lowDigits = 1000000

// Append appends the decimal form of t, as strconv.AppendInt(b, t, 10).
// Like append, it may write into b's spare capacity beyond what it appends.
func (f *TimeAppender) Append(b []byte, t int64) []byte {
	if t < lowDigits {
		return strconv.AppendInt(b, t, 10)
	}
	hi, lo := t/lowDigits, t%lowDigits
	if f.n == 0 || hi != f.hi {
		f.hi, f.n = hi, len(strconv.AppendInt(f.digits[:0], hi, 10))
	}
	b, buf := spare(b)
	*(*[16]byte)(buf[:16]) = f.digits
	low := buf[f.n : f.n+6]
	d0, d1, d2 := lo/10000, lo/100%100, lo%100
	low[0], low[1] = pairs[2*d0], pairs[2*d0+1]
	low[2], low[3] = pairs[2*d1], pairs[2*d1+1]
	low[4], low[5] = pairs[2*d2], pairs[2*d2+1]
	return b[:len(b)+f.n+6]
}

// pairs holds "00" to "99": two digits per division by 100.
const pairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"
