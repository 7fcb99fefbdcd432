package uplink

import "time"

// Clock is the time source of the outbox: flush ticks, backoff, pacing and
// status times all come from it, so tests drive time without sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
