package batch

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HTTP headers of a signed request.
const (
	HeaderEdge        = "X-Edgevault-Edge"
	HeaderTimestamp   = "X-Edgevault-Timestamp"
	HeaderNonce       = "X-Edgevault-Nonce"
	HeaderSignature   = "X-Edgevault-Signature"
	HeaderIdempotency = "Idempotency-Key"
)

// DefaultSkew is the accepted distance between a request's timestamp and
// the receiver's clock.
const DefaultSkew = 5 * time.Minute

const scheme = "EDGEVAULT-HMAC-SHA256"

// SignRequest signs one attempt to send body, with a fresh nonce.
func SignRequest(req *http.Request, body []byte, edgeID string, seq uint64, k Keys, now time.Time) error {
	if len(k.Sign) < 32 {
		return fmt.Errorf("%w: signing key has %d bytes, want at least 32", ErrBadKey, len(k.Sign))
	}
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return fmt.Errorf("sign: nonce: %w", err)
	}
	nonce := hex.EncodeToString(n[:])
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	idem := IdempotencyKey(edgeID, seq)
	sig := signature(k.Sign, req.Method, req.URL.EscapedPath(), ts, nonce, edgeID, idem, body)
	req.Header.Set(HeaderEdge, edgeID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderIdempotency, idem)
	req.Header.Set(HeaderSignature, hex.EncodeToString(sig))
	return nil
}

// IdempotencyKey is the Idempotency-Key of batch seq of an edge.
func IdempotencyKey(edgeID string, seq uint64) string {
	return edgeID + ":" + strconv.FormatUint(seq, 10)
}

func signature(key []byte, method, path, ts, nonce, edge, idem string, body []byte) []byte {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, key)
	for _, s := range []string{scheme, method, path, ts, nonce, edge, idem} {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	m.Write(hx[:])
	return m.Sum(nil)
}

// NonceCache remembers nonces for at least the skew window.
type NonceCache interface {
	// Seen records nonce for edge, sent at ts, and reports whether it was
	// already recorded.
	Seen(edgeID, nonce string, ts time.Time) bool
}

// signed is a request's signing headers, parsed.
type signed struct {
	edge, ts, nonce, idem string
	sig                   []byte
	at                    time.Time
	seq                   uint64
}

func parseSigned(req *http.Request) (signed, error) {
	h := req.Header
	s := signed{edge: h.Get(HeaderEdge), ts: h.Get(HeaderTimestamp), nonce: h.Get(HeaderNonce), idem: h.Get(HeaderIdempotency)}
	bad := func(what string) (signed, error) { return signed{}, fmt.Errorf("%w: %s", ErrBadSignature, what) }
	if s.edge == "" || len(s.edge) > 255 {
		return bad("missing or long " + HeaderEdge)
	}
	ms, err := strconv.ParseInt(s.ts, 10, 64)
	if err != nil {
		return bad("bad " + HeaderTimestamp)
	}
	s.at = time.UnixMilli(ms)
	if len(s.nonce) != 32 || strings.Trim(s.nonce, "0123456789abcdef") != "" {
		return bad("bad " + HeaderNonce)
	}
	e, seqS, ok := strings.Cut(s.idem, ":")
	if !ok || e != s.edge {
		return bad(HeaderIdempotency + " must be edge:seq")
	}
	if s.seq, err = strconv.ParseUint(seqS, 10, 64); err != nil {
		return bad("bad sequence in " + HeaderIdempotency)
	}
	if s.sig, err = hex.DecodeString(h.Get(HeaderSignature)); err != nil || len(s.sig) != sha256.Size {
		return bad("bad " + HeaderSignature)
	}
	return s, nil
}

// VerifyRequest authenticates a request signed by SignRequest and returns
// its edge id and batch sequence. seen may be nil to skip replay detection.
func VerifyRequest(req *http.Request, body []byte, lookup func(edgeID string) (Keys, bool),
	now time.Time, skew time.Duration, seen NonceCache) (edgeID string, seq uint64, err error) {
	s, err := parseSigned(req)
	if err != nil {
		return "", 0, err
	}
	k, ok := lookup(s.edge)
	if !ok {
		return "", 0, fmt.Errorf("%w: %q", ErrUnknownEdge, s.edge)
	}
	want := signature(k.Sign, req.Method, req.URL.EscapedPath(), s.ts, s.nonce, s.edge, s.idem, body)
	if len(k.Sign) < 32 || !hmac.Equal(want, s.sig) {
		return "", 0, fmt.Errorf("%w: edge %q", ErrBadSignature, s.edge)
	}
	if d := now.Sub(s.at); d > skew || d < -skew {
		return "", 0, fmt.Errorf("%w: %s off, window %s", ErrStale, d.Round(time.Millisecond), skew)
	}
	if seen != nil && seen.Seen(s.edge, s.nonce, s.at) {
		return "", 0, fmt.Errorf("%w: edge %q nonce %s", ErrReplay, s.edge, s.nonce)
	}
	return s.edge, s.seq, nil
}

// MemNonces is an in-memory NonceCache. Entries are forgotten once their
// timestamp is more than ttl before the newest timestamp seen, which is safe
// when ttl >= the verifier's skew: older requests are refused as stale.
type MemNonces struct {
	ttl time.Duration

	mu     sync.Mutex // guards the following
	m      map[string]time.Time
	newest time.Time
	pruned time.Time
}

// NewMemNonces returns an empty cache keeping nonces for ttl (use 2×skew
// so that requests stamped up to skew in the future are covered too).
func NewMemNonces(ttl time.Duration) *MemNonces {
	return &MemNonces{ttl: ttl, m: map[string]time.Time{}}
}

// Seen implements NonceCache.
func (c *MemNonces) Seen(edgeID, nonce string, ts time.Time) bool {
	key := edgeID + "\x00" + nonce
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		return true
	}
	c.m[key] = ts
	if ts.After(c.newest) {
		c.newest = ts
	}
	if c.newest.Sub(c.pruned) > c.ttl/4 {
		c.prune()
	}
	return false
}

// prune drops expired entries. Callers hold mu.
func (c *MemNonces) prune() {
	cut := c.newest.Add(-c.ttl)
	for k, t := range c.m {
		if t.Before(cut) {
			delete(c.m, k)
		}
	}
	c.pruned = c.newest
}

// Len returns how many nonces are remembered.
func (c *MemNonces) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
