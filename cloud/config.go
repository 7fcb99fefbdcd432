package cloud

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/cloud/pgstore"
)

// Config is the cloud service configuration. The zero value of every field
// means its default.
type Config struct {
	// HTTP is the listen address (default 127.0.0.1:8480).
	HTTP string `yaml:"http"`
	// Data is the directory of the embedded store (default ./cloud-data).
	Data string `yaml:"data"`
	// Storage selects the backend: the embedded store under Data (default)
	// or PostgreSQL.
	Storage Storage `yaml:"storage"`
	// TLS serves HTTPS when both files are set.
	TLS TLS `yaml:"tls"`
	// AdminToken enables the admin routes for "Authorization: Bearer
	// <token>"; empty disables them (403).
	AdminToken string `yaml:"admin_token"`
	// ReadToken, or the admin token, is required on the query routes
	// (edges/{edge}/query|records|series, stats) once either is set. With
	// neither set the query routes are open to anyone who reaches the
	// cloud, which the cloud logs at start.
	ReadToken string `yaml:"read_token"`
	// MaxBody bounds an ingest body in bytes (default 16 MiB).
	MaxBody int64 `yaml:"max_body"`
	// MaxRaw bounds a batch's decompressed payload (default 64 MiB).
	MaxRaw int `yaml:"max_raw"`
	// MaxItems bounds the readings and records of one batch (default 1,000,000).
	MaxItems int `yaml:"max_items"`
	// MaxConcurrent bounds the batches being decoded and stored at once,
	// and so the memory they take (default 4).
	MaxConcurrent int `yaml:"max_concurrent"`
	// Skew is the accepted clock difference of a signed request (default 5m).
	Skew time.Duration `yaml:"skew"`
	// Edges are the edge nodes allowed to upload; more can be registered
	// at run time with POST /api/v1/admin/edges.
	Edges []EdgeConfig `yaml:"edges"`
}

// Storage backends (Storage.Backend).
const (
	BackendEmbedded = "embedded"
	BackendPostgres = "postgres"
)

// Storage is the storage section of the configuration.
type Storage struct {
	// Backend is "embedded" (default) or "postgres".
	Backend string `yaml:"backend"`
	// Postgres configures the postgres backend (see package pgstore).
	Postgres pgstore.Config `yaml:"postgres"`
}

func (st *Storage) validate() error {
	switch st.Backend {
	case "", BackendEmbedded:
		st.Backend = BackendEmbedded
		return nil
	case BackendPostgres:
		if err := st.Postgres.Validate(); err != nil {
			return fmt.Errorf("%w: storage.postgres: %v", ErrConfig, err)
		}
		return nil
	}
	return fmt.Errorf("%w: storage.backend: want %q or %q, got %q", ErrConfig, BackendEmbedded, BackendPostgres, st.Backend)
}

// TLS names a certificate and its key, PEM files.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// EdgeConfig is one edge node and its secrets, each hex or base64.
type EdgeConfig struct {
	ID      string `yaml:"id" json:"id"`
	SignKey string `yaml:"sign_key" json:"sign_key"`
	DataKey string `yaml:"data_key" json:"data_key"`
}

// Sentinel errors of configuration and registration.
var (
	ErrConfig    = errors.New("cloud: bad config")
	ErrEdgeID    = errors.New("cloud: bad edge id")
	ErrEdgeKeys  = errors.New("cloud: bad edge keys")
	ErrEdgeFixed = errors.New("cloud: edge is defined in the config file")
)

// edgeIDRe keeps ids safe in paths, keys and tag values.
var edgeIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// LoadConfig reads a YAML file strictly: an unknown key is an error.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	return ParseConfig(raw)
}

// ParseConfig decodes and validates YAML configuration.
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c.fillDefaults()
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c *Config) fillDefaults() {
	if c.HTTP == "" {
		c.HTTP = "127.0.0.1:8480"
	}
	if c.Data == "" {
		c.Data = "./cloud-data"
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 16 << 20
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 4
	}
	if c.Skew <= 0 {
		c.Skew = batch.DefaultSkew
	}
}

func (c *Config) validate() error {
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return fmt.Errorf("%w: tls: set both cert and key", ErrConfig)
	}
	if err := c.Storage.validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, e := range c.Edges {
		if _, err := e.keys(); err != nil {
			return fmt.Errorf("%w: edges[%d]: %v", ErrConfig, i, err)
		}
		if seen[e.ID] {
			return fmt.Errorf("%w: edges[%d]: duplicate id %q", ErrConfig, i, e.ID)
		}
		seen[e.ID] = true
	}
	return nil
}

func (c Config) limits() batch.Limits {
	return batch.Limits{MaxBody: int(c.MaxBody), MaxRaw: c.MaxRaw, MaxItems: c.MaxItems}
}

// keys validates the edge and decodes its secrets.
func (e EdgeConfig) keys() (batch.Keys, error) {
	if !edgeIDRe.MatchString(e.ID) {
		return batch.Keys{}, fmt.Errorf("%w: %q (want 1-64 of A-Z a-z 0-9 . _ -)", ErrEdgeID, e.ID)
	}
	sign, err := decodeKey(e.SignKey)
	if err != nil {
		return batch.Keys{}, fmt.Errorf("%w: sign_key: %v", ErrEdgeKeys, err)
	}
	data, err := decodeKey(e.DataKey)
	if err != nil {
		return batch.Keys{}, fmt.Errorf("%w: data_key: %v", ErrEdgeKeys, err)
	}
	k := batch.Keys{Sign: sign, Data: data}
	if err := batch.CheckKeys(k); err != nil {
		return batch.Keys{}, fmt.Errorf("%w: %v", ErrEdgeKeys, err)
	}
	return k, nil
}

// decodeKey accepts hex, then standard or URL-safe base64 with or without
// padding.
func decodeKey(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil && len(b) > 0 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	return nil, errors.New("want hex or base64")
}
