package notify

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/edgevault/edgevault/rules"
)

type mailMsg struct {
	from string
	to   []string
	data string
	auth string // decoded AUTH PLAIN response
	tls  bool
}

// fakeSMTP speaks enough SMTP (RFC 5321) for net/smtp: EHLO, STARTTLS
// (when it has a certificate), AUTH PLAIN, MAIL, RCPT, DATA, RSET, QUIT.
type fakeSMTP struct {
	ln  net.Listener
	tls *tls.Config // nil: STARTTLS not offered
	wg  sync.WaitGroup

	mu    sync.Mutex          // guards the following
	mails []mailMsg           // accepted messages
	fail  map[string][]string // verb -> replies to give, one per command, before 250
}

func newFakeSMTP(t *testing.T, cfg *tls.Config) *fakeSMTP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSMTP{ln: ln, tls: cfg, fail: map[string][]string{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(conn) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *fakeSMTP) messages() []mailMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mailMsg(nil), s.mails...)
}

// reply returns a queued failure for verb, or ok.
func (s *fakeSMTP) reply(verb, ok string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.fail[verb]; len(q) > 0 {
		s.fail[verb] = q[1:]
		return q[0]
	}
	return ok
}

func (s *fakeSMTP) serve(conn net.Conn) {
	defer func() { conn.Close() }()
	r, w := bufio.NewReader(conn), conn
	say := func(line string) { _, _ = w.Write([]byte(line + "\r\n")) }
	say("220 fake.test ESMTP")
	var m mailMsg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			if s.tls != nil && !m.tls {
				say("250-fake.test")
				say("250-STARTTLS")
			} else {
				say("250-fake.test")
			}
			say("250-AUTH PLAIN")
			say("250 8BITMIME")
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(conn, s.tls)
			if tc.Handshake() != nil {
				return
			}
			conn, r, w, m.tls = tc, bufio.NewReader(tc), tc, true
		case "AUTH":
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(arg, "PLAIN "))
			m.auth = string(raw)
			say("235 2.7.0 accepted")
		case "MAIL":
			m.from = arg
			say(s.reply("MAIL", "250 ok"))
		case "RCPT":
			m.to = append(m.to, arg)
			say(s.reply("RCPT", "250 ok"))
		case "DATA":
			say("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			say("250 queued")
		case "RSET", "NOOP":
			say("250 ok")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

func emailChannel(addr string) Channel {
	return Channel{Name: "mail", Kind: KindEmail, SMTP: &SMTP{Addr: addr, From: "edge@example.com",
		To: []string{"ops@example.com", "oncall@example.com"}, Username: "edge", Password: "pw"}}
}

func TestEmail(t *testing.T) {
	srv := newFakeSMTP(t, nil)
	e := start(t, []Channel{emailChannel(srv.ln.Addr().String())}, Options{})
	a := alert(11, rules.SeverityCritical)
	a.Device = "evil\r\nBcc: victim@example.com"
	a.Message = "first line\n.\nafter a lone dot"
	e.d.Notify(a)
	waitFor(t, "delivery", func() bool { return e.status().Delivered == 1 })
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if !strings.HasPrefix(m.from, "FROM:<edge@example.com>") || len(m.to) != 2 || m.to[1] != "TO:<oncall@example.com>" {
		t.Fatalf("envelope %q %q", m.from, m.to)
	}
	if m.auth != "\x00edge\x00pw" {
		t.Fatalf("auth %q", m.auth)
	}
	head, body, _ := strings.Cut(m.data, "\r\n\r\n")
	for _, want := range []string{"From: edge@example.com", "To: ops@example.com, oncall@example.com",
		"Subject: [edgevault] CRITICAL triggered: freezer-warm on evil  Bcc: victim@example.com",
		"Content-Type: text/plain; charset=utf-8", "Date: Sun, 22 Nov 2026 03:00:00 +0000"} {
		if !strings.Contains(head, want) {
			t.Fatalf("header %q missing in\n%s", want, head)
		}
	}
	if strings.Contains(head, "\r\nBcc:") {
		t.Fatalf("header injected:\n%s", head)
	}
	// The server sees the dot stuffed ("..") per RFC 5321 4.5.2.
	if !strings.Contains(body, "first line\r\n..\r\nafter a lone dot") || !strings.Contains(body, "Alert:           11") {
		t.Fatalf("body:\n%s", body)
	}
}

func TestEmailReplies(t *testing.T) {
	tests := []struct {
		name      string
		verb      string
		replies   []string
		delivered bool
		retries   int
	}{
		{"transient 451 retried", "MAIL", []string{"451 4.3.0 try later"}, true, 1},
		{"permanent 550 not retried", "RCPT", []string{"550 5.1.1 no such user"}, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeSMTP(t, nil)
			srv.fail[tc.verb] = tc.replies
			e := start(t, []Channel{emailChannel(srv.ln.Addr().String())}, Options{})
			e.d.Notify(alert(1, rules.SeverityWarning))
			waitFor(t, "outcome", func() bool { s := e.status(); return s.Delivered+s.Failed == 1 })
			if s := e.status(); (s.Delivered == 1) != tc.delivered {
				t.Fatalf("status %+v", s)
			}
			if n := len(e.clock.Sleeps()); n != tc.retries {
				t.Fatalf("%d retries, want %d", n, tc.retries)
			}
		})
	}
}

func TestEmailStartTLS(t *testing.T) {
	ts := httptest.NewTLSServer(nil) // borrows its 127.0.0.1 certificate
	cert, leaf := ts.TLS.Certificates[0], ts.Certificate()
	ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	srv := newFakeSMTP(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	e := start(t, []Channel{emailChannel(srv.ln.Addr().String())}, Options{TLSConfig: &tls.Config{RootCAs: pool}})
	e.d.Notify(alert(1, rules.SeverityWarning))
	waitFor(t, "delivery", func() bool { return e.status().Delivered == 1 })
	if m := srv.messages(); len(m) != 1 || !m[0].tls {
		t.Fatalf("not sent over STARTTLS: %+v", m)
	}
}
