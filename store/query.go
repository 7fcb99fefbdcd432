package store

import (
	"fmt"
	"time"

	"github.com/edgevault/edgevault/point"
)

// Agg is an aggregation applied to the points of one time bucket.
type Agg string

const (
	AggCount Agg = "count"
	AggSum   Agg = "sum"
	AggAvg   Agg = "avg"
	AggMin   Agg = "min"
	AggMax   Agg = "max"
	AggFirst Agg = "first"
	AggLast  Agg = "last"
)

// ParseAgg validates an aggregation name.
func ParseAgg(s string) (Agg, error) {
	switch a := Agg(s); a {
	case AggCount, AggSum, AggAvg, AggMin, AggMax, AggFirst, AggLast:
		return a, nil
	}
	return "", fmt.Errorf("unknown aggregation %q (want count, sum, avg, min, max, first or last)", s)
}

// Query selects the points of one series in [From, To).
//
// With Step == 0 the raw points come back in time order, at most Limit of
// them (0 means DefaultLimit); Result.Next is then the From of the next page,
// or 0 when there is none. With Step > 0 the points are grouped in buckets
// aligned to the Unix epoch (bucket start = t - t mod Step) and Agg is applied
// to each non-empty bucket; stored rollups answer whole buckets when Step is
// a multiple of a rollup tier.
type Query struct {
	Device string
	Metric string
	Tags   []point.Tag // sorted; must match the series exactly
	From   int64       // Unix ms, inclusive
	To     int64       // Unix ms, exclusive
	Step   int64       // bucket width in ms; 0 for raw points
	Agg    Agg
	Limit  int
}

// DefaultLimit and MaxLimit bound a page of raw points.
const (
	DefaultLimit = 100_000
	MaxLimit     = 1_000_000
)

// Sample is one stored point of a series.
type Sample struct {
	T int64 // Unix ms
	V point.Value
}

// Result is the answer to a Query. Kind is the kind of the series (for
// aggregates: KindFloat for sum/avg/min/max of numeric series and KindInt for
// count). Samples hold raw points or one aggregated value per bucket, with T
// the bucket start.
type Result struct {
	Kind    point.Kind
	Samples []Sample
	Next    int64  // raw queries: From of the next page, 0 if none
	Source  string // "raw", "rollup:1m", "rollup:1h" or a mix "rollup:1m+raw"
}

// Rollup tiers kept up to date as data arrives.
const (
	Tier1m = int64(time.Minute / time.Millisecond)
	Tier1h = int64(time.Hour / time.Millisecond)
)
