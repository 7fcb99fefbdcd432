package api

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func TestWrite(t *testing.T) {
	cases := []struct {
		name, target, body string
		hdr                []string
		code               int
		want               string
	}{
		{"ok", "/write?db=home", "m,device=d v=1 1\n", nil, 204, ""},
		{"ok gzip", "/write?db=home&precision=ms", gz("m,device=d v=1 1\n"), []string{"Content-Encoding", "gzip"}, 204, ""},
		{"partial", "/write?db=home", "m v=1 1\nbad line\n", nil, 400, `{"error":"partial write: unable to parse bad line"}`},
		{"no db", "/write", "m v=1", nil, 400, "database is required"},
		{"bad precision", "/write?db=x&precision=us", "m v=1", nil, 400, "precision"},
		{"too large", "/write?db=x", strings.Repeat("m v=1 1\n", 200), nil, 413, `{"error":"request entity too large"}`},
		{"too large gzip", "/write?db=x", gz(strings.Repeat("m v=1 1\n", 200)), []string{"Content-Encoding", "gzip"}, 413, "too large"},
		{"bad gzip", "/write?db=x", "not gzip", []string{"Content-Encoding", "gzip"}, 400, "gzip body"},
		{"bad encoding", "/write?db=x", "m v=1", []string{"Content-Encoding", "br"}, 400, "content encoding"},
		{"not durable", "/write?db=x", "m v=1 fail\n", nil, 503, "wal sync failed"},
		{"wrong method", "/write?db=x", "", nil, 405, "allowed: POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			method := "POST"
			if tc.code == 405 {
				method = "GET"
			}
			rec := e.do(t, method, tc.target, tc.body, tc.hdr...)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("status %d body %s, want %d with %s", rec.Code, rec.Body, tc.code, tc.want)
			}
		})
	}
}

func TestWritePrecisionPassed(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"", "n", "ns", "u", "ms", "s", "m", "h"} {
		if rec := e.do(t, "POST", "/write?db=x&precision="+p, "m v=1"); rec.Code != 204 {
			t.Errorf("precision %q: %d", p, rec.Code)
		}
	}
}

func TestPingAndQuery(t *testing.T) {
	e := newEnv(t)
	for _, m := range []string{"GET", "HEAD"} {
		rec := e.do(t, m, "/ping", "")
		if rec.Code != 204 || rec.Header().Get("X-Influxdb-Version") == "" {
			t.Fatalf("%s /ping: %d %v", m, rec.Code, rec.Header())
		}
	}
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	cases := []struct {
		name, target, body string
		code               int
		want               string
	}{
		{"create quoted", "/query", `q=CREATE+DATABASE+"telegraf"`, 200, `"statement_id":0`},
		{"create in url", "/query?q=create%20database%20home", "", 200, `"results"`},
		{"create with", "/query", "q=CREATE DATABASE db WITH DURATION 1d", 200, `"results"`},
		{"select", "/query", "q=SELECT * FROM cpu", 400, "only CREATE DATABASE"},
		{"two statements", "/query", "q=CREATE+DATABASE+a%3B+DROP+DATABASE+b", 400, "only CREATE DATABASE"},
		{"missing q", "/query", "", 400, `missing required parameter`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(t, "POST", tc.target, tc.body, form...)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("status %d body %s", rec.Code, rec.Body)
			}
		})
	}
}

// FuzzWriteBody: any body through the handler gets 204, 400 or 413 and
// never panics.
func FuzzWriteBody(f *testing.F) {
	f.Add([]byte("m,device=d v=1 1\n"), false)
	f.Add([]byte("bad\nm v=1\n"), false)
	f.Add([]byte(gz("m v=1 1\n")), true)
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0}, true)
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		hdr := []string{}
		if gzipped {
			hdr = []string{"Content-Encoding", "gzip"}
		}
		e.lines.bodies = nil
		rec := e.do(t, "POST", "/write?db=x", string(body), hdr...)
		switch rec.Code {
		case 204:
		case 400, 413, 503:
			errorOf(t, rec)
		default:
			t.Fatalf("status %d body %s", rec.Code, rec.Body)
		}
	})
}
