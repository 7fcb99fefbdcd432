// Package chunk encodes the compressed blocks of the local store. A block
// holds the samples of one series: strictly increasing Unix-millisecond
// timestamps and values of one kind. This file is the on-disk format; a
// change to it needs a new version byte.
//
// # Block
//
// Varints are encoding/binary's: uvarint is LEB128, varint is zigzag LEB128.
//
//	byte     version       1
//	byte     kind          1 float, 2 int, 3 bool, 4 string (point.Kind)
//	uvarint  count         number of samples, 1..MaxPoints
//	varint   minT          first timestamp
//	varint   maxT          last timestamp; == minT iff count == 1
//	byte     time encoding 1 (delta of delta)
//	byte     value encoding, one of the ids below, which must fit the kind
//	uvarint  tlen          length of the timestamp column
//	tlen     timestamp column
//	...      value column, to the end of the block
//
// Every column must be used up exactly: trailing bytes, and set bits in the
// padding of a bit stream, make the block corrupt. A reader also rejects a
// count larger than 8*tlen+1, since each timestamp after the first takes at
// least one bit, so a forged count cannot make it allocate.
//
// # Bit streams
//
// The timestamp and XOR columns are bit streams written most significant bit
// first, the last byte padded with zero bits. Integer arithmetic on
// timestamps, deltas and values is two's complement modulo 2^64, so any
// int64 sequence encodes.
//
// # Timestamp column (time encoding 1)
//
// For i = 1..count-1, with delta_0 = 0, delta_i = t_i - t_(i-1) and
// dod = delta_i - delta_(i-1), one code each:
//
//	0                    dod == 0
//	10   + 7 bits        dod in [-2^6, 2^6)
//	110  + 14 bits       dod in [-2^13, 2^13)
//	1110 + 24 bits       dod in [-2^23, 2^23)
//	1111 + 64 bits       any dod
//
// The bits after a prefix are dod in two's complement. The first timestamp
// is minT, and the decoded last one must equal maxT. Regular data costs one
// bit a point.
//
// # Packed frames
//
// A sequence of unsigned integers is cut into frames of 128 (the last may be
// shorter; the count is known). A frame is one byte w (0..64) followed by
// ceil(n*w/8) bytes holding its n values of w bits each, least significant
// bit first (value j occupies bits j*w..j*w+w-1 of the frame, bit k being bit
// k%8 of byte k/8). w == 0 means every value is 0 and takes no bytes.
//
// # Integer column
//
//	byte     order         1 delta, 2 delta of delta
//	varint   v_0
//	frames   count-1 residuals r_i, zigzag-encoded
//
// With order 1, v_i = v_(i-1) + r_i; with order 2, d_i = d_(i-1) + r_i
// (d_0 = 0) and v_i = v_(i-1) + d_i. The writer keeps whichever order is
// smaller.
//
// # Value encodings
//
// 1, float, XOR (Gorilla): a bit stream. The first value's 64 IEEE 754 bits,
// then for each next value, with x its bits XOR the previous value's bits:
//
//	0                                      x == 0
//	10 + (64-L-T) bits                     x >> T, reusing the previous L and T
//	11 + 5 bits L + 6 bits S + S bits      x >> T with L leading zeros (at
//	                                       most 31) and S = 64-L-T meaningful
//	                                       bits; S == 64 is written as 0
//
// The 10 form is only valid after an 11 form, and L+S must not exceed 64.
//
// 2, float, decimal (in the spirit of ALP): one byte e (0..18), then an
// integer column of n_i; the values are float64(n_i) / 10^e, divided in
// IEEE 754 double precision. The writer uses it only when every value
// comes back bit for bit (so never for -0, NaN or Inf), with the smallest
// such e up to 12, and only when it is smaller than the XOR column. A
// 2-decimal random walk at 1 Hz takes about 0.65 bytes a point in all.
//
// 3, int: an integer column of the values.
//
// 4, bool, bitmap: ceil(count/8) bytes; sample i is bit i%8 of byte i/8.
//
// 5, bool, constant: one byte, 0 or 1, the value of every sample.
//
// 6, string, dictionary:
//
//	uvarint  d             distinct strings, 1..count
//	d times  uvarint length, then that many bytes
//	frames   count dictionary indexes, each < d
//
// The writer lists the strings in order of first appearance.
package chunk
