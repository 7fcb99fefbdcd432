package uplink

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"gopkg.in/yaml.v3"
)

// When-full policies.
const (
	WhenFullBlock      = "block"
	WhenFullDropOldest = "drop_oldest"
)

// Config configures the uplink. The zero value of a field means its default
// (DefaultConfig); an empty URLs list means the uplink is off.
type Config struct {
	// URLs are the cloud base URLs; batches go to <url>/api/v1/ingest, and
	// the sender fails over between them in order.
	URLs   []string `yaml:"urls" json:"urls"`
	EdgeID string   `yaml:"edge_id" json:"edge_id"`
	// SignKey and DataKey are hex: the HMAC signing secret and the 32-byte
	// AES-256 data key. They are never written as JSON, so a config echoed
	// over REST does not leak them.
	SignKey string `yaml:"sign_key" json:"-"`
	DataKey string `yaml:"data_key" json:"-"`
	// CAFile is a PEM bundle of the CAs that sign the cloud's TLS
	// certificate, for a cloud with its own CA; empty uses the system roots.
	CAFile string `yaml:"ca_file" json:"ca_file,omitempty"`
	// BatchPoints and BatchBytes cut a batch (default 10000 points, 1 MiB
	// estimated before compression).
	BatchPoints int `yaml:"batch_points" json:"batch_points"`
	BatchBytes  int `yaml:"batch_bytes" json:"batch_bytes"`
	// FlushInterval cuts whatever is pending at every tick (default 1s).
	FlushInterval time.Duration `yaml:"flush_interval" json:"flush_interval"`
	// DrainRate paces bulk batches in points/s (default 1,000,000); -1
	// means unpaced.
	DrainRate int `yaml:"drain_rate" json:"drain_rate"`
	// DiskBudgetBytes bounds the queued batches (default 1 GiB).
	DiskBudgetBytes int64 `yaml:"disk_budget_bytes" json:"disk_budget_bytes"`
	// WhenFull is "block" (default) or "drop_oldest"; see the package doc.
	WhenFull string `yaml:"when_full" json:"when_full"`
	// Timeout bounds one POST (default 30s).
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// BackoffMin and BackoffMax bound the wait after every URL failed
	// (defaults 500ms and 30s).
	BackoffMin time.Duration `yaml:"backoff_min" json:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max" json:"backoff_max"`
}

// maxBatchPoints keeps a batch under what the cloud accepts
// (batch.DefaultLimits().MaxItems).
const maxBatchPoints = 1_000_000

// DefaultConfig returns the defaults; URLs, EdgeID and the keys have none.
func DefaultConfig() Config {
	return Config{
		BatchPoints:     10000,
		BatchBytes:      1 << 20,
		FlushInterval:   time.Second,
		DrainRate:       1_000_000,
		DiskBudgetBytes: 1 << 30,
		WhenFull:        WhenFullBlock,
		Timeout:         30 * time.Second,
		BackoffMin:      500 * time.Millisecond,
		BackoffMax:      30 * time.Second,
	}
}

// withDefaults fills the zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setInt(&c.BatchPoints, d.BatchPoints)
	setInt(&c.BatchBytes, d.BatchBytes)
	setInt(&c.DrainRate, d.DrainRate)
	if c.DiskBudgetBytes == 0 {
		c.DiskBudgetBytes = d.DiskBudgetBytes
	}
	if c.WhenFull == "" {
		c.WhenFull = d.WhenFull
	}
	setDur(&c.FlushInterval, d.FlushInterval)
	setDur(&c.Timeout, d.Timeout)
	setDur(&c.BackoffMin, d.BackoffMin)
	setDur(&c.BackoffMax, d.BackoffMax)
	return c
}

func setInt(p *int, d int) {
	if *p == 0 {
		*p = d
	}
}

func setDur(p *time.Duration, d time.Duration) {
	if *p == 0 {
		*p = d
	}
}

// Validate names the first bad key and the reason. Defaults are applied
// first, so a zero field is valid.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.URLs) == 0 {
		return nil
	}
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("uplink.urls: %q is not an http(s) URL", u)
		}
	}
	if c.EdgeID == "" {
		return errors.New("uplink.edge_id: required when urls are set")
	}
	if _, _, err := c.keys(); err != nil {
		return err
	}
	if c.BatchPoints > maxBatchPoints {
		return fmt.Errorf("uplink.batch_points: more than %d", maxBatchPoints)
	}
	switch {
	case c.BatchPoints < 0:
		return errors.New("uplink.batch_points: must be positive")
	case c.BatchBytes < 0:
		return errors.New("uplink.batch_bytes: must be positive")
	case c.DrainRate < -1:
		return errors.New("uplink.drain_rate: must be positive or -1 (unpaced)")
	case c.DiskBudgetBytes < 0:
		return errors.New("uplink.disk_budget_bytes: must be positive")
	case c.WhenFull != WhenFullBlock && c.WhenFull != WhenFullDropOldest:
		return fmt.Errorf("uplink.when_full: %q is not block or drop_oldest", c.WhenFull)
	case c.FlushInterval < 0 || c.Timeout < 0 || c.BackoffMin < 0:
		return errors.New("uplink: durations must be positive")
	case c.BackoffMax < c.BackoffMin:
		return errors.New("uplink.backoff_max: less than backoff_min")
	}
	return nil
}

// keys decodes the hex keys.
func (c Config) keys() (sign, data []byte, err error) {
	sign, err = hex.DecodeString(c.SignKey)
	if err != nil || len(sign) < 32 {
		return nil, nil, errors.New("uplink.sign_key: want at least 32 bytes as hex")
	}
	data, err = hex.DecodeString(c.DataKey)
	if err != nil || len(data) != 32 {
		return nil, nil, errors.New("uplink.data_key: want 32 bytes as hex")
	}
	return sign, data, nil
}

// DecodeConfig strictly decodes a YAML uplink section (unknown keys are
// errors) over the defaults and validates it.
func DecodeConfig(r io.Reader) (Config, error) {
	c := DefaultConfig()
	src, err := io.ReadAll(r)
	if err != nil {
		return c, fmt.Errorf("read uplink config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("uplink config: %w", err)
	}
	return c, c.Validate()
}
