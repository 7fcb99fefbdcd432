package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgevault/edgevault/rules"
)

// Channel kinds.
const (
	KindWebhook = "webhook"
	KindMQTT    = "mqtt"
	KindEmail   = "email"
	KindLog     = "log"
)

// Defaults of a Channel's zero fields.
const (
	DefaultRetries     = 5
	DefaultTimeout     = 10 * time.Second
	DefaultConcurrency = 4
	maxRetries         = 20
	maxConcurrency     = 64
)

// File is the document ParseYAML and ParseJSON read.
type File struct {
	Channels []Channel `yaml:"channels" json:"channels"`
}

// Channel configures one notification channel. Which fields apply depends
// on Kind; setting one that does not is an error.
type Channel struct {
	Name string `yaml:"name" json:"name"`
	Kind string `yaml:"kind" json:"kind"`
	// URL of a webhook (http or https).
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Secret keys the webhook body's HMAC-SHA256 signature; empty: unsigned.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// Topic template of an mqtt channel: {rule} {device} {severity} {state}.
	Topic string `yaml:"topic,omitempty" json:"topic,omitempty"`
	QoS   byte   `yaml:"qos,omitempty" json:"qos,omitempty"`
	SMTP  *SMTP  `yaml:"smtp,omitempty" json:"smtp,omitempty"`
	// RateLimit; nil means unlimited.
	RateLimit *RateLimit `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
	// MinSeverity; empty means info, so every alert.
	MinSeverity rules.Severity `yaml:"min_severity,omitempty" json:"min_severity,omitempty"`
	// Retries after the first attempt; nil means DefaultRetries.
	Retries *int `yaml:"retries,omitempty" json:"retries,omitempty"`
	// Timeout of one attempt; zero means DefaultTimeout.
	Timeout rules.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Concurrency is how many deliveries may be under way at once, so that
	// a slow or retried one does not hold up the alerts behind it; zero
	// means DefaultConcurrency, 1 delivers one at a time in queue order.
	Concurrency int `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
}

// SMTP configures an email channel.
type SMTP struct {
	Addr     string   `yaml:"addr" json:"addr"` // host:port
	From     string   `yaml:"from" json:"from"`
	To       []string `yaml:"to" json:"to"`
	Username string   `yaml:"username,omitempty" json:"username,omitempty"`
	Password string   `yaml:"password,omitempty" json:"password,omitempty"`
}

// RateLimit allows Burst notifications per Per, with bursts up to Burst.
type RateLimit struct {
	Per   rules.Duration `yaml:"per" json:"per"`
	Burst int            `yaml:"burst" json:"burst"`
}

// ErrConfig wraps every configuration error.
var ErrConfig = errors.New("notify: invalid config")

// ParseYAML decodes channels strictly (unknown keys are errors) and
// validates them.
func ParseYAML(data []byte) ([]Channel, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return f.Channels, Validate(f.Channels)
}

// ParseJSON decodes channels strictly and validates them.
func ParseJSON(data []byte) ([]Channel, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return f.Channels, Validate(f.Channels)
}

// Validate checks channels; the error names the first bad key.
func Validate(channels []Channel) error {
	seen := map[string]bool{}
	for i := range channels {
		c := &channels[i]
		p := fmt.Sprintf("channels[%d]", i)
		if c.Name != "" {
			if seen[c.Name] {
				return invalid(p+".name", "duplicate name %q", c.Name)
			}
			seen[c.Name] = true
		}
		if err := c.validate(p); err != nil {
			return err
		}
	}
	return nil
}

func invalid(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, key, fmt.Sprintf(format, args...))
}

func (c *Channel) validate(p string) error {
	if c.Name == "" || strings.ContainsFunc(c.Name, isControl) {
		return invalid(p+".name", "required, without control characters")
	}
	if err := c.validateCommon(p); err != nil {
		return err
	}
	unused := map[string]bool{"url": c.URL != "", "secret": c.Secret != "", "topic": c.Topic != "",
		"qos": c.QoS != 0, "smtp": c.SMTP != nil}
	switch c.Kind {
	case KindWebhook:
		unused["url"], unused["secret"] = false, false
		if err := checkURL(c.URL); err != nil {
			return invalid(p+".url", "%v", err)
		}
	case KindMQTT:
		unused["topic"], unused["qos"] = false, false
		if c.Topic == "" || strings.ContainsAny(c.Topic, "+#\x00") {
			return invalid(p+".topic", "required, without wildcards (+ #)")
		}
		if c.QoS > 2 {
			return invalid(p+".qos", "%d is not 0, 1 or 2", c.QoS)
		}
	case KindEmail:
		unused["smtp"] = false
		if err := c.SMTP.validate(p + ".smtp"); err != nil {
			return err
		}
	case KindLog:
	default:
		return invalid(p+".kind", "unknown kind %q (want webhook, mqtt, email or log)", c.Kind)
	}
	for _, k := range []string{"url", "secret", "topic", "qos", "smtp"} {
		if unused[k] {
			return invalid(p+"."+k, "not used by kind %s", c.Kind)
		}
	}
	return nil
}

func (c *Channel) validateCommon(p string) error {
	switch c.MinSeverity {
	case "", rules.SeverityInfo, rules.SeverityWarning, rules.SeverityCritical:
	default:
		return invalid(p+".min_severity", "unknown severity %q (want info, warning or critical)", c.MinSeverity)
	}
	if c.Retries != nil && (*c.Retries < 0 || *c.Retries > maxRetries) {
		return invalid(p+".retries", "%d is not between 0 and %d", *c.Retries, maxRetries)
	}
	if c.Concurrency < 0 || c.Concurrency > maxConcurrency {
		return invalid(p+".concurrency", "%d is not between 1 and %d", c.Concurrency, maxConcurrency)
	}
	if r := c.RateLimit; r != nil {
		if r.Per <= 0 {
			return invalid(p+".rate_limit.per", "must be positive")
		}
		if r.Burst < 1 {
			return invalid(p+".rate_limit.burst", "must be at least 1")
		}
	}
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http or https URL", s)
	}
	return nil
}

func (s *SMTP) validate(p string) error {
	if s == nil {
		return invalid(p, "required for kind email")
	}
	if _, port, err := net.SplitHostPort(s.Addr); err != nil || port == "" {
		return invalid(p+".addr", "%q is not host:port", s.Addr)
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return invalid(p+".from", "%q: %v", s.From, err)
	}
	if len(s.To) == 0 {
		return invalid(p+".to", "at least one recipient required")
	}
	for i, to := range s.To {
		if _, err := mail.ParseAddress(to); err != nil {
			return invalid(fmt.Sprintf("%s.to[%d]", p, i), "%q: %v", to, err)
		}
	}
	if s.Password != "" && s.Username == "" {
		return invalid(p+".username", "required with a password")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (c *Channel) retries() int {
	if c.Retries == nil {
		return DefaultRetries
	}
	return *c.Retries
}

func (c *Channel) concurrency() int {
	if c.Concurrency == 0 {
		return DefaultConcurrency
	}
	return c.Concurrency
}

func (c *Channel) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout.D()
}

func severityRank(s rules.Severity) int {
	switch s {
	case rules.SeverityInfo:
		return 0
	case rules.SeverityCritical:
		return 2
	}
	return 1
}
