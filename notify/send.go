package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/rules"
)

// message is one notification: the alert and its JSON, encoded once for
// every attempt.
type message struct {
	alert   alerts.Alert
	body    []byte
	summary bool
	since   time.Time // cause of the alert; zero for summaries
}

// sender delivers one message in one attempt.
type sender interface {
	send(ctx context.Context, m *message) error
}

// permanentError marks a failure that a retry cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// retryAfterError carries a server's Retry-After.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e retryAfterError) Error() string { return e.err.Error() }
func (e retryAfterError) Unwrap() error { return e.err }

// Sign returns the X-Edgevault-Signature value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

type webhook struct {
	url, secret string
	client      *http.Client
	now         func() time.Time
}

func (w *webhook) send(ctx context.Context, m *message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(m.body))
	if err != nil {
		return permanent(fmt.Errorf("webhook request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "edgevault-notify")
	req.Header.Set("X-Edgevault-Event", eventName(m))
	req.Header.Set("X-Edgevault-Timestamp", strconv.FormatInt(w.now().Unix(), 10))
	if w.secret != "" {
		req.Header.Set("X-Edgevault-Signature", Sign(w.secret, m.body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code >= 500:
		err := fmt.Errorf("webhook: status %d", code)
		if s, convErr := strconv.Atoi(resp.Header.Get("Retry-After")); convErr == nil && s > 0 {
			return retryAfterError{err, time.Duration(s) * time.Second}
		}
		return err
	}
	return permanent(fmt.Errorf("webhook: status %d", code))
}

func eventName(m *message) string {
	if m.summary {
		return "summary"
	}
	return "alert"
}

// PublishFunc publishes one MQTT message, such as through the embedded
// broker.
type PublishFunc func(topic string, payload []byte, qos byte, retain bool) error

type mqttSender struct {
	topic   string
	qos     byte
	publish PublishFunc
}

// topicSafe replaces what MQTT reserves in topic names, so a value cannot
// add levels or wildcards.
var topicSafe = strings.NewReplacer("/", "_", "+", "_", "#", "_", "\x00", "_")

// Topic expands a topic template for an alert.
func Topic(template string, a *alerts.Alert) string {
	return strings.NewReplacer(
		"{rule}", topicSafe.Replace(a.Rule), "{device}", topicSafe.Replace(a.Device),
		"{severity}", topicSafe.Replace(string(a.Severity)), "{state}", topicSafe.Replace(string(a.State)),
	).Replace(template)
}

func (s *mqttSender) send(_ context.Context, m *message) error {
	if err := s.publish(Topic(s.topic, &m.alert), m.body, s.qos, false); err != nil {
		return fmt.Errorf("mqtt publish: %w", err)
	}
	return nil
}

type logSender struct{ log *slog.Logger }

func (s *logSender) send(ctx context.Context, m *message) error {
	a := &m.alert
	level := slog.LevelWarn
	switch a.Severity {
	case rules.SeverityCritical:
		level = slog.LevelError
	case rules.SeverityInfo:
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "alert", "event", eventName(m), "id", a.ID, "rule", a.Rule, "key", a.Key,
		"device", a.Device, "severity", a.Severity, "state", a.State, "value", a.Value, "message", a.Message)
	return nil
}
