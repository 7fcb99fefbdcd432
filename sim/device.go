package sim

import (
	"context"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// device publishes one simulated device's messages.
type device struct {
	opts   Options
	index  int
	id     string
	client mqtt.Client
	stats  *deviceStats
	rec    *recorder
}

// pending is a publish whose token has not completed yet.
type pending struct {
	tok  mqtt.Token
	sent time.Time
	ts   int64
}

// run publishes until ctx ends or Count is reached, then waits for the
// outstanding tokens.
func (d *device) run(ctx context.Context) {
	slots := make(chan struct{}, d.opts.Inflight)
	queue := make(chan pending, d.opts.Inflight)
	done := make(chan struct{})
	go d.complete(queue, slots, done)
	defer func() { close(queue); <-done }()

	tick, stop := d.pacer()
	defer stop()
	w := newWalker(d.opts.Seed, d.index)
	topic := d.opts.TopicFor(d.id)
	for k := 0; d.opts.Count == 0 || k < d.opts.Count; k++ {
		if tick != nil {
			select {
			case <-ctx.Done():
				return
			case <-tick:
			}
		}
		select {
		case <-ctx.Done():
			return
		case slots <- struct{}{}:
		}
		if ctx.Err() != nil {
			<-slots
			return
		}
		ts := d.timestamp(k)
		payload, _ := d.opts.Format.Encode(nil, d.id, ts, w.next()) // format validated by Run
		sent := d.opts.Now()
		tok := d.client.Publish(topic, d.opts.QoS, false, payload)
		d.stats.sent++
		queue <- pending{tok: tok, sent: sent, ts: ts}
	}
}

func (d *device) timestamp(k int) int64 {
	if d.opts.Start != 0 {
		return d.opts.Start + int64(k)*d.opts.Interval
	}
	return d.opts.Now().UnixMilli()
}

// pacer returns the tick channel for Rate > 0 (nil for as fast as possible).
// Devices start at staggered offsets so the load is spread over the period.
func (d *device) pacer() (<-chan time.Time, func()) {
	if d.opts.Rate <= 0 {
		return nil, func() {}
	}
	period := time.Duration(float64(time.Second) / d.opts.Rate)
	period = max(period, time.Microsecond)
	ch := make(chan time.Time, 1)
	stop := make(chan struct{})
	go func() {
		offset := period * time.Duration(d.index) / time.Duration(max(d.opts.Devices, 1))
		select {
		case <-time.After(offset):
		case <-stop:
			return
		}
		ch <- time.Now()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				select {
				case ch <- now:
				default: // the device fell behind: drop the tick, as time.Ticker does
				}
			}
		}
	}()
	return ch, func() { close(stop) }
}

// complete waits for each token in publish order, counts the outcome and
// frees its inflight slot.
func (d *device) complete(queue <-chan pending, slots <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	timer := time.NewTimer(d.opts.AckTimeout)
	defer timer.Stop()
	for p := range queue {
		timer.Reset(max(d.opts.AckTimeout-d.opts.Now().Sub(p.sent), 0))
		ok := false
		select {
		case <-p.tok.Done():
			ok = p.tok.Error() == nil
		case <-timer.C:
		}
		if ok {
			d.stats.acked++
			if d.opts.QoS > 0 {
				d.stats.lat = append(d.stats.lat, d.opts.Now().Sub(p.sent))
			}
		} else {
			d.stats.failed++
		}
		d.rec.write(d.id, p.ts, ok)
		<-slots
	}
}
