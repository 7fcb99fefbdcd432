package pgstore

import (
	"errors"
	"fmt"
	"time"
)

// Layouts of the points table (Config.Layout).
const (
	LayoutPartitioned = "partitioned"
	LayoutPlain       = "plain"
)

// Config is the `storage.postgres` section of the cloud configuration. The
// zero value of every field but URL means its default.
type Config struct {
	// URL is a libpq connection URL or keyword/value string, for example
	// postgres://edgevault@db.example:5432/edgevault?sslmode=verify-full.
	// What it leaves out comes from the PG* environment variables and
	// ~/.pgpass, as with psql.
	URL string `yaml:"url"`
	// Layout is the shape of the points table created by the first start:
	// "partitioned" (default: declarative range partitions by time, created
	// on demand) or "plain" (one table, for TimescaleDB's create_hypertable).
	// An existing schema keeps the layout it has.
	Layout string `yaml:"layout"`
	// Partition is the time span of one partition, aligned to the Unix
	// epoch in UTC (default 24h; a whole number of hours).
	Partition time.Duration `yaml:"partition"`
	// MaxConns bounds the connection pool (default 16).
	MaxConns int32 `yaml:"max_conns"`
	// Timeout bounds the calls that have no context of their own: Append,
	// Series and the Meta store (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("pgstore: bad config")

func (c *Config) fillDefaults() {
	if c.Layout == "" {
		c.Layout = LayoutPartitioned
	}
	if c.Partition == 0 {
		c.Partition = 24 * time.Hour
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 16
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
}

// Validate fills the defaults and checks c. Its errors name the key.
func (c *Config) Validate() error {
	c.fillDefaults()
	switch {
	case c.URL == "":
		return errors.New("url: required")
	case c.Layout != LayoutPartitioned && c.Layout != LayoutPlain:
		return fmt.Errorf("layout: want %q or %q, got %q", LayoutPartitioned, LayoutPlain, c.Layout)
	case c.Partition < time.Hour || c.Partition%time.Hour != 0:
		return fmt.Errorf("partition: want a whole number of hours, got %v", c.Partition)
	}
	return nil
}
