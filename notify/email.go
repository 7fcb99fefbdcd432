package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/edgevault/edgevault/alerts"
)

type emailSender struct {
	cfg SMTP
	tls *tls.Config // nil: system roots
	now func() time.Time
}

func (s *emailSender) send(ctx context.Context, m *message) error {
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("smtp dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpErr("smtp greeting", err)
	}
	defer c.Close()
	if err := s.session(c, host, m); err != nil {
		return err
	}
	if err := c.Quit(); err != nil {
		return smtpErr("smtp quit", err)
	}
	return nil
}

func (s *emailSender) session(c *smtp.Client, host string, m *message) error {
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if s.tls != nil {
			cfg = s.tls.Clone()
			cfg.ServerName = host
		}
		if err := c.StartTLS(cfg); err != nil {
			return smtpErr("smtp starttls", err)
		}
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, host)); err != nil {
			return smtpErr("smtp auth", err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return smtpErr("smtp mail from", err)
	}
	for _, to := range s.cfg.To {
		if err := c.Rcpt(to); err != nil {
			return smtpErr("smtp rcpt "+to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpErr("smtp data", err)
	}
	if _, err := w.Write(s.compose(m)); err != nil {
		return smtpErr("smtp data", err)
	}
	if err := w.Close(); err != nil {
		return smtpErr("smtp data", err)
	}
	return nil
}

// smtpErr marks permanent SMTP replies (5xx) so they are not retried.
func smtpErr(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent(err)
	}
	return err
}

var headerSafe = strings.NewReplacer("\r", " ", "\n", " ")

// Subject is the email subject of an alert.
func Subject(a *alerts.Alert) string {
	return fmt.Sprintf("[edgevault] %s %s: %s on %s", strings.ToUpper(string(a.Severity)), a.State, a.Rule, a.Device)
}

func (s *emailSender) compose(m *message) []byte {
	a := &m.alert
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, headerSafe.Replace(v)) }
	header("From", s.cfg.From)
	header("To", strings.Join(s.cfg.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", headerSafe.Replace(Subject(a))))
	header("Date", s.now().Format(time.RFC1123Z))
	header("Message-ID", fmt.Sprintf("<edgevault-%d-%s-%d@edgevault>", a.ID, a.State, s.now().UnixNano()))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	if a.Message != "" {
		b.WriteString(a.Message + "\r\n\r\n")
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-16s %s\r\n", k+":", v)
		}
	}
	line("Alert", fmt.Sprint(a.ID))
	line("Rule", a.Rule)
	line("Series", a.Key)
	line("Metric", a.Metric)
	line("Severity", string(a.Severity))
	line("State", string(a.State))
	line("Value", fmt.Sprint(a.Value))
	for _, t := range []struct {
		k string
		v time.Time
	}{{"Triggered", a.TriggeredAt}, {"Acknowledged", a.AcknowledgedAt}, {"Resolved", a.ResolvedAt}} {
		if !t.v.IsZero() {
			line(t.k, t.v.UTC().Format(alerts.TimeFormat))
		}
	}
	line("Acknowledged by", a.AcknowledgedBy)
	line("Resolved by", a.ResolvedBy)
	return b.Bytes()
}
