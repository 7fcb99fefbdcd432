package batch

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestVerifyRequest(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	k := testKeys(1)
	body := []byte("sealed body")
	lookup := func(id string) (Keys, bool) { return k, id == "edge-1" }
	sign := func(k Keys, at time.Time) *http.Request {
		req := httptest.NewRequest("POST", "/api/v1/ingest", bytes.NewReader(body))
		if err := SignRequest(req, body, "edge-1", 42, k, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	cases := []struct {
		name   string
		req    func() *http.Request
		body   []byte
		replay bool
		want   error
	}{
		{"good", func() *http.Request { return sign(k, now) }, body, false, nil},
		{"good at edge of window", func() *http.Request { return sign(k, now.Add(-DefaultSkew)) }, body, false, nil},
		{"tampered body", func() *http.Request { return sign(k, now) }, []byte("sealed bodY"), false, ErrBadSignature},
		{"stale", func() *http.Request { return sign(k, now.Add(-DefaultSkew-time.Millisecond)) }, body, false, ErrStale},
		{"future", func() *http.Request { return sign(k, now.Add(DefaultSkew+time.Second)) }, body, false, ErrStale},
		{"wrong key", func() *http.Request { return sign(testKeys(5), now) }, body, false, ErrBadSignature},
		{"unknown edge", func() *http.Request {
			r := sign(k, now)
			r.Header.Set(HeaderEdge, "edge-2")
			r.Header.Set(HeaderIdempotency, "edge-2:42")
			return r
		}, body, false, ErrUnknownEdge},
		{"seq changed", func() *http.Request {
			r := sign(k, now)
			r.Header.Set(HeaderIdempotency, "edge-1:43")
			return r
		}, body, false, ErrBadSignature},
		{"path changed", func() *http.Request {
			r := sign(k, now)
			r.URL.Path = "/api/v1/other"
			return r
		}, body, false, ErrBadSignature},
		{"nonce changed", func() *http.Request {
			r := sign(k, now)
			r.Header.Set(HeaderNonce, "00000000000000000000000000000000")
			return r
		}, body, false, ErrBadSignature},
		{"missing signature", func() *http.Request {
			r := sign(k, now)
			r.Header.Del(HeaderSignature)
			return r
		}, body, false, ErrBadSignature},
		{"idempotency edge mismatch", func() *http.Request {
			r := sign(k, now)
			r.Header.Set(HeaderIdempotency, "other:42")
			return r
		}, body, false, ErrBadSignature},
		{"replay", func() *http.Request { return sign(k, now) }, body, true, ErrReplay},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := NewMemNonces(2 * DefaultSkew)
			req := tc.req()
			if tc.replay {
				if _, _, err := VerifyRequest(req, tc.body, lookup, now, DefaultSkew, seen); err != nil {
					t.Fatal(err)
				}
			}
			edge, seq, err := VerifyRequest(req, tc.body, lookup, now, DefaultSkew, seen)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyRequest = %v, want %v", err, tc.want)
			}
			if err == nil && (edge != "edge-1" || seq != 42) {
				t.Fatalf("VerifyRequest = %q %d", edge, seq)
			}
			if tc.want != nil && tc.want != ErrReplay && seen.Len() != 0 {
				t.Fatal("a rejected request's nonce was remembered")
			}
		})
	}
}

func TestMemNoncesPrune(t *testing.T) {
	c := NewMemNonces(time.Minute)
	t0 := time.UnixMilli(0)
	if c.Seen("e", "a", t0) || !c.Seen("e", "a", t0) {
		t.Fatal("first Seen must be false, second true")
	}
	if c.Seen("f", "a", t0) {
		t.Fatal("nonces are per edge")
	}
	c.Seen("e", "b", t0.Add(2*time.Minute))
	if c.Len() != 1 {
		t.Fatalf("Len = %d after pruning, want 1", c.Len())
	}
}

func TestSignRequestBadKey(t *testing.T) {
	req := httptest.NewRequest("POST", "/x", nil)
	if err := SignRequest(req, nil, "e", 1, Keys{Sign: []byte("short")}, time.Now()); !errors.Is(err, ErrBadKey) {
		t.Fatalf("SignRequest = %v, want ErrBadKey", err)
	}
}
