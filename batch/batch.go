package batch

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/edgevault/edgevault/point"
)

// Sentinel errors. Every error Open, VerifyRequest and SignRequest return
// wraps exactly one of them.
var (
	// ErrBadBatch: the body or payload cannot be decoded (truncated, bad
	// magic, counts that do not add up, data the wrong shape).
	ErrBadBatch = errors.New("batch: undecodable")
	// ErrDecrypt: AES-GCM authentication failed (wrong data key or changed
	// bytes).
	ErrDecrypt = errors.New("batch: decryption failed")
	// ErrTooLarge: the body, its decompressed payload or its item count is
	// over Limits (this includes decompression bombs).
	ErrTooLarge = errors.New("batch: too large")
	// ErrBadKey: a key is missing or the wrong length.
	ErrBadKey = errors.New("batch: bad key")
	// ErrBadSignature: signing headers missing or malformed, or the HMAC
	// does not match.
	ErrBadSignature = errors.New("batch: bad signature")
	// ErrStale: the request timestamp is outside the allowed skew.
	ErrStale = errors.New("batch: stale timestamp")
	// ErrReplay: the nonce was already used within the window.
	ErrReplay = errors.New("batch: replayed nonce")
	// ErrUnknownEdge: the edge id has no keys.
	ErrUnknownEdge = errors.New("batch: unknown edge")
)

// Batch kinds.
const (
	KindTelemetry   = "telemetry"
	KindRegistry    = "registry"
	KindDeadLetters = "deadletters"
	KindAlerts      = "alerts"
	KindCommands    = "commands"
)

// Header describes a batch. It travels in clear and is authenticated.
type Header struct {
	EdgeID   string
	Seq      uint64
	Created  int64 // Unix ms
	Kind     string
	Priority uint8
	Count    int // len(Readings) + len(Records); Seal sets it
}

// Batch is one unit of upload: telemetry readings, or opaque JSON records
// for the other kinds (a batch may carry both).
type Batch struct {
	Header   Header
	Readings []point.Reading
	Records  [][]byte
}

// Keys are one edge's secrets.
type Keys struct {
	Sign []byte // HMAC-SHA256 key, at least 32 bytes
	Data []byte // AES-256 key, exactly 32 bytes
}

// Limits bound what Open accepts. A zero field means its default.
type Limits struct {
	MaxBody  int // sealed body bytes; default 16 MiB
	MaxRaw   int // decompressed payload bytes; default 64 MiB
	MaxItems int // readings + records; default 1,000,000
}

// DefaultLimits returns the limits a zero Limits means.
func DefaultLimits() Limits {
	return Limits{MaxBody: 16 << 20, MaxRaw: 64 << 20, MaxItems: 1_000_000}
}

func (l Limits) filled() Limits {
	d := DefaultLimits()
	if l.MaxBody <= 0 {
		l.MaxBody = d.MaxBody
	}
	if l.MaxRaw <= 0 {
		l.MaxRaw = d.MaxRaw
	}
	if l.MaxItems <= 0 {
		l.MaxItems = d.MaxItems
	}
	return l
}

const (
	magic      = "EVB\x01"
	nonceSize  = 12
	prefixSize = len(magic) + 2 // magic, version, hlen
	// minHeader is a header with one-byte edge id and kind.
	minHeader = 1 + 1 + 8 + 8 + 1 + 1 + 1 + 4
)

// CheckKeys reports whether k is usable.
func CheckKeys(k Keys) error {
	if len(k.Sign) < 32 {
		return fmt.Errorf("%w: signing key has %d bytes, want at least 32", ErrBadKey, len(k.Sign))
	}
	if len(k.Data) != 32 {
		return fmt.Errorf("%w: data key has %d bytes, want 32", ErrBadKey, len(k.Data))
	}
	return nil
}

// Seal encodes, compresses and encrypts b. It sets b.Header.Count.
func Seal(b Batch, k Keys) ([]byte, error) {
	if err := CheckKeys(k); err != nil {
		return nil, err
	}
	h := b.Header
	h.Count = len(b.Readings) + len(b.Records)
	hdr, err := appendHeader(nil, h)
	if err != nil {
		return nil, err
	}
	payload, err := appendPayload(getBuf(), b.Readings, b.Records)
	if err != nil {
		return nil, err
	}
	z := encoder.EncodeAll(payload, nil)
	putBuf(payload)
	aead, err := newAEAD(k.Data)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, prefixSize+len(hdr)+nonceSize+len(z)+aead.Overhead())
	out = append(out, magic...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(hdr)))
	out = append(out, hdr...)
	aad := out
	nonce := out[len(out) : len(out)+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out = out[:len(out)+nonceSize]
	return aead.Seal(out, nonce, z, aad), nil
}

// Open verifies, decrypts, decompresses and decodes a body made by Seal.
// Readings come back grouped by series (see the package doc). Every error
// wraps one of ErrBadBatch, ErrDecrypt, ErrTooLarge or ErrBadKey.
func Open(body []byte, k Keys, limits Limits) (Batch, error) {
	limits = limits.filled()
	if err := CheckKeys(k); err != nil {
		return Batch{}, err
	}
	if len(body) > limits.MaxBody {
		return Batch{}, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, len(body), limits.MaxBody)
	}
	h, hlen, err := parseHeader(body)
	if err != nil {
		return Batch{}, err
	}
	if h.Count > limits.MaxItems {
		return Batch{}, fmt.Errorf("%w: %d items, limit %d", ErrTooLarge, h.Count, limits.MaxItems)
	}
	raw, err := unseal(body, prefixSize+hlen, k.Data, limits.MaxRaw)
	if err != nil {
		return Batch{}, err
	}
	defer putBuf(raw)
	// Each reading takes at least one payload byte, so this bounds the
	// allocation by MaxRaw whatever Count claims.
	b := Batch{Header: h, Readings: make([]point.Reading, 0, min(h.Count, len(raw)))}
	if err := decodePayload(raw, &b, limits.MaxItems); err != nil {
		return Batch{}, err
	}
	if n := len(b.Readings) + len(b.Records); n != h.Count {
		return Batch{}, fmt.Errorf("%w: header counts %d items, payload has %d", ErrBadBatch, h.Count, n)
	}
	return b, nil
}

// unseal decrypts what follows the first aadLen bytes of body and
// decompresses it, producing at most maxRaw bytes.
func unseal(body []byte, aadLen int, key []byte, maxRaw int) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	aad, rest := body[:aadLen], body[aadLen:]
	if len(rest) < nonceSize+aead.Overhead() {
		return nil, fmt.Errorf("%w: truncated after header", ErrBadBatch)
	}
	z, err := aead.Open(nil, rest[:nonceSize], rest[nonceSize:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return decompress(z, maxRaw)
}

// PeekHeader returns the clear header of a body without any key. Nothing in
// it can be trusted until Open has succeeded.
func PeekHeader(body []byte) (Header, error) {
	h, _, err := parseHeader(body)
	return h, err
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return cipher.NewGCM(blk)
}

func appendHeader(dst []byte, h Header) ([]byte, error) {
	if len(h.EdgeID) == 0 || len(h.EdgeID) > 255 {
		return nil, fmt.Errorf("%w: edge id must be 1..255 bytes", ErrBadBatch)
	}
	if len(h.Kind) == 0 || len(h.Kind) > 255 {
		return nil, fmt.Errorf("%w: kind must be 1..255 bytes", ErrBadBatch)
	}
	if h.Count > 1<<32-1 {
		return nil, fmt.Errorf("%w: %d items", ErrTooLarge, h.Count)
	}
	dst = append(dst, byte(len(h.EdgeID)))
	dst = append(dst, h.EdgeID...)
	dst = binary.BigEndian.AppendUint64(dst, h.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.Created))
	dst = append(dst, byte(len(h.Kind)))
	dst = append(dst, h.Kind...)
	dst = append(dst, h.Priority)
	return binary.BigEndian.AppendUint32(dst, uint32(h.Count)), nil
}

// parseHeader returns the header and its encoded length.
func parseHeader(body []byte) (Header, int, error) {
	if len(body) < prefixSize || string(body[:len(magic)]) != magic {
		return Header{}, 0, fmt.Errorf("%w: bad magic or version", ErrBadBatch)
	}
	hlen := int(binary.BigEndian.Uint16(body[len(magic):]))
	if hlen < minHeader || len(body) < prefixSize+hlen {
		return Header{}, 0, fmt.Errorf("%w: bad header length %d", ErrBadBatch, hlen)
	}
	p := body[prefixSize : prefixSize+hlen]
	var h Header
	n := int(p[0])
	if len(p) < 1+n+17 {
		return Header{}, 0, fmt.Errorf("%w: truncated header", ErrBadBatch)
	}
	h.EdgeID, p = string(p[1:1+n]), p[1+n:]
	h.Seq = binary.BigEndian.Uint64(p)
	h.Created = int64(binary.BigEndian.Uint64(p[8:]))
	n, p = int(p[16]), p[17:]
	if len(p) != n+5 || n == 0 || h.EdgeID == "" {
		return Header{}, 0, fmt.Errorf("%w: malformed header", ErrBadBatch)
	}
	h.Kind, p = string(p[:n]), p[n:]
	h.Priority = p[0]
	h.Count = int(binary.BigEndian.Uint32(p[1:]))
	return h, hlen, nil
}
