// Package batch is the wire format between an edge node and the cloud: a
// sealed batch body (columnar readings or opaque JSON records, compressed
// with zstd, encrypted with AES-256-GCM) and the HMAC-SHA256 signature of the
// HTTP request that carries it.
//
// # Body
//
// All integers are big-endian unless said otherwise. uvarint and varint are
// encoding/binary's unsigned and zigzag varints; str is uvarint(len) bytes.
//
//	body       = magic version hlen header nonce sealed
//	magic      = "EVB"                      3 bytes
//	version    = 0x01                       1 byte
//	hlen       = uint16                     length of header in bytes
//	header     = u8(len EdgeID) EdgeID      1..255 bytes
//	             uint64 Seq
//	             int64  Created             Unix ms
//	             u8(len Kind) Kind          1..255 bytes
//	             u8     Priority
//	             uint32 Count               len(Readings) + len(Records)
//	nonce      = 12 random bytes
//	sealed     = AES-256-GCM(key Keys.Data, nonce, plaintext zstd(payload),
//	             additional data = magic version hlen header); the 16-byte
//	             tag is at the end
//
// The header travels in clear so the receiver can route and bound the batch
// before decrypting it, and is authenticated as GCM additional data so no
// byte of it can change unnoticed.
//
// # Payload
//
// The zstd frame holds one payload:
//
//	payload    = uvarint(nGroups) group*  uvarint(nRecords) str*
//	group      = str(Device) str(Metric) uvarint(nTags) (str(Key) str(Value))*
//	             u8(Kind) uvarint(n) times values
//	times      = varint(t0) [varint(t1-t0)] varint(dod)*   dod_i = (t_i - t_i-1) - (t_i-1 - t_i-2)
//	values     = float | int | bool | string, by Kind (point.Kind numbering)
//	float      = u8(mode) ...
//	             mode 0:    n × uint64 little-endian of bits(v_i) XOR bits(v_i-1) (v_-1 = 0)
//	             mode 1+d:  every v_i equals float64(x_i) / 10^d exactly, d in 0..9;
//	                        varint(x0) varint(x_i - x_i-1)*
//	int        = varint(v0) varint(v_i - v_i-1)*      (wrapping int64 arithmetic)
//	bool       = ceil(n/8) bytes, bit i%8 of byte i/8 (least significant first)
//	string     = n × str
//
// A group is one (series, kind): readings are grouped by series in the order
// each series first appears, and keep their order within a series; Open
// returns them in that grouped order, which may differ from the order given
// to Seal. Timestamps and values are stored column after column so that zstd
// sees long runs: 1 Hz timestamps are a run of zero dod bytes, and 2-decimal
// random walks are small deltas of scaled integers (about 1 byte per point
// after zstd; see BenchmarkSeal).
//
// # Change records
//
// Batches of kinds registry, alerts, commands and deadletters carry the
// edge's metadata changes as JSON records (Change): {"op":"put"|"delete",
// "key": full key in the edge's metadata, "value": the value when it is
// JSON, or "value_b64": its bytes}. The cloud keeps the latest change per
// key; other JSON records are kept as they come.
//
// # Limits
//
// Open refuses, before allocating for them, a body longer than
// Limits.MaxBody, a decompressed payload longer than Limits.MaxRaw (zstd
// decoding stops at that size, so a decompression bomb costs at most that
// much memory), and more than Limits.MaxItems items. Every count in the
// payload is checked against the bytes that remain before anything is
// allocated for it.
//
// # Request signing
//
// SignRequest sets, for one attempt to POST a batch:
//
//	X-Edgevault-Edge       edge id
//	X-Edgevault-Timestamp  Unix ms, decimal
//	X-Edgevault-Nonce      16 random bytes, lowercase hex (32 characters)
//	Idempotency-Key        edge id ":" seq (decimal)
//	X-Edgevault-Signature  lowercase hex HMAC-SHA256(Keys.Sign, canonical)
//
//	canonical = "EDGEVAULT-HMAC-SHA256\n" method "\n" path "\n" timestamp "\n"
//	            nonce "\n" edge "\n" idempotency-key "\n" hex(sha256(body))
//
// path is the request URL's escaped path without the query. The nonce, edge
// and idempotency key are signed too, so none can be swapped to get around
// the replay check. Each attempt (including a retry of the same batch) must
// be signed afresh: a retry with the same nonce is a replay (ErrReplay), a
// retry with a new nonce is acknowledged by the cloud's idempotent store.
//
// VerifyRequest checks, in this order: the headers parse (ErrBadSignature),
// the edge is known (ErrUnknownEdge), the signature matches in constant time
// (ErrBadSignature), the timestamp is within skew of now (ErrStale), and the
// nonce was not seen within the window (ErrReplay). A nonce is remembered
// only once the signature is good, so forged requests cannot fill the cache.
package batch
