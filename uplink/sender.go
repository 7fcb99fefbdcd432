package uplink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/kv"
)

// IngestPath is where batches are posted under each cloud URL.
const IngestPath = "/api/v1/ingest"

// highBurst is how many high batches go in a row while bulk waits.
const highBurst = 4

// IdempotencyKey is the key the cloud deduplicates a batch by.
func IdempotencyKey(edgeID string, seq uint64) string {
	return batch.IdempotencyKey(edgeID, seq)
}

// Run sends batches and cuts pending ones every flush interval until ctx is
// done, then persists what is still pending.
func (o *Outbox) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { o.flushLoop(ctx) })
	wg.Go(func() { o.cutLoop(ctx.Done()) })
	o.sendLoop(ctx)
	wg.Wait()
	return o.Flush()
}

func (o *Outbox) flushLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.clock.After(o.cfg.FlushInterval):
			if err := o.Flush(); err != nil {
				o.log.Error("flush", "err", err)
			}
		}
	}
}

func (o *Outbox) sendLoop(ctx context.Context) {
	for ctx.Err() == nil {
		m, ok := o.next()
		if !ok {
			select {
			case <-ctx.Done():
			case <-o.wake:
			}
			continue
		}
		err := o.sendOne(ctx, m)
		o.mu.Lock()
		o.inflight = 0
		o.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			o.failed(ctx, err)
		}
	}
}

// next picks the batch to send and marks it in flight.
func (o *Outbox) next() (meta, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	high, bulk := o.queues[PriorityHigh], o.queues[PriorityBulk]
	var m meta
	switch {
	case len(high) > 0 && (len(bulk) == 0 || o.highStreak < highBurst):
		m = high[0]
		o.highStreak++
	case len(bulk) > 0:
		m = bulk[0]
		o.highStreak = 0
	default:
		return meta{}, false
	}
	o.inflight = m.Seq
	return m, true
}

// sendOne makes one attempt; a nil error means acked or rejected.
func (o *Outbox) sendOne(ctx context.Context, m meta) error {
	v, err := o.kv.Get(queueKey(m.Priority, m.Seq))
	if errors.Is(err, kv.ErrNotFound) {
		o.forget(m) // dropped meanwhile: nothing to send
		return nil
	}
	if err != nil {
		return fmt.Errorf("load batch %d: %w", m.Seq, err)
	}
	r, err := decodeRecord(v)
	if err != nil {
		return o.reject(record{Body: v}, m, fmt.Sprintf("stored record: %v", err))
	}
	if m.Priority == PriorityBulk && m.Seq != o.paced {
		if err := o.pace(ctx, m.Count); err != nil {
			return err
		}
		o.paced = m.Seq // a retry does not pay again
	}
	url := o.cfg.URLs[o.cur]
	status, msg, err := o.post(ctx, url, m, r.Body)
	switch {
	case err != nil:
		o.noteURL(o.cur, err)
		return err
	case status >= 200 && status < 300:
		o.noteURL(o.cur, nil)
		return o.ack(m)
	case permanent(status):
		o.noteURL(o.cur, nil) // the URL answered; the batch is at fault
		return o.reject(r, m, fmt.Sprintf("%s: %d %s", url, status, msg))
	}
	err = fmt.Errorf("%s: status %d %s", url, status, msg)
	o.noteURL(o.cur, err)
	return err
}

// permanent reports whether a status rejects the batch for good.
func permanent(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return status >= 400 && status < 500
}

// post sends one batch. A 2xx whose body does not acknowledge m.Seq is an
// error, so the batch is retried.
func (o *Outbox) post(ctx context.Context, url string, m meta, body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimSuffix(url, "/")+IngestPath, bytes.NewReader(body))
	if err != nil {
		return 0, "", fmt.Errorf("build request: %w", err)
	}
	// net/http replays a request that carries an Idempotency-Key on a
	// broken keep-alive connection, with the same signature and nonce, which
	// the cloud refuses as a replay (4xx, so the batch would be rejected).
	// Without GetBody it cannot; the sender retries with a fresh signature.
	req.GetBody = nil
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Idempotency-Key", IdempotencyKey(o.cfg.EdgeID, m.Seq))
	if err := o.sign(req, body, m.Seq, o.clock.Now()); err != nil {
		return 0, "", fmt.Errorf("sign batch %d: %w", m.Seq, err)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("post batch %d: %w", m.Seq, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return 0, "", fmt.Errorf("read answer to batch %d: %w", m.Seq, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return resp.StatusCode, strings.TrimSpace(string(b)), nil
	}
	var ack struct {
		Acked *uint64 `json:"acked"`
	}
	if err := json.Unmarshal(b, &ack); err != nil || ack.Acked == nil {
		return 0, "", fmt.Errorf("batch %d: answer %q is not an ack", m.Seq, b)
	}
	if *ack.Acked != m.Seq {
		return 0, "", fmt.Errorf("batch %d: cloud acked %d", m.Seq, *ack.Acked)
	}
	return resp.StatusCode, "", nil
}

// failed moves to the next URL and, once every URL failed in a row, waits
// an exponential backoff with full jitter.
func (o *Outbox) failed(ctx context.Context, err error) {
	o.fails++
	o.met.retries.Inc()
	o.log.Warn("send failed", "url", o.cfg.URLs[o.cur], "fails", o.fails, "err", err)
	n := len(o.cfg.URLs)
	o.cur = (o.cur + 1) % n
	o.mu.Lock()
	o.st.lastError, o.st.lastErrorAt = err.Error(), o.clock.Now()
	o.st.active = o.cur
	o.mu.Unlock()
	if o.fails%n != 0 {
		return
	}
	d := backoff(o.cfg.BackoffMin, o.cfg.BackoffMax, o.fails/n)
	d = d/2 + o.jitter(d/2)
	select {
	case <-ctx.Done():
	case <-o.clock.After(d):
	}
}

// backoff is the ceiling of the wait after the n-th round of failures:
// lo doubling per round, capped at hi.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// pace waits until the drain budget allows count points.
func (o *Outbox) pace(ctx context.Context, count int) error {
	rate := float64(o.cfg.DrainRate)
	if rate <= 0 {
		return nil
	}
	burst := max(rate, float64(o.cfg.BatchPoints))
	now := o.clock.Now()
	if !o.tokensAt.IsZero() {
		o.tokens = min(burst, o.tokens+now.Sub(o.tokensAt).Seconds()*rate)
	} else {
		o.tokens = burst
	}
	o.tokensAt = now
	o.tokens -= float64(count)
	if o.tokens >= 0 {
		return nil
	}
	wait := time.Duration(-o.tokens / rate * float64(time.Second))
	select {
	case <-ctx.Done():
		o.tokens += float64(count)
		return ctx.Err()
	case <-o.clock.After(wait):
		return nil
	}
}

func (o *Outbox) noteURL(i int, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	u := &o.st.urls[i]
	if err != nil {
		u.ConsecutiveFailures++
		u.LastError, u.LastErrorAt = err.Error(), o.clock.Now()
		return
	}
	u.ConsecutiveFailures = 0
	u.LastSuccess = o.clock.Now()
}

// ack deletes an acknowledged batch.
func (o *Outbox) ack(m meta) error {
	o.fails = 0
	if err := o.kv.Delete(queueKey(m.Priority, m.Seq)); err != nil {
		// The cloud has it; a restart resends it and the cloud dedups.
		o.log.Error("delete acked batch", "seq", m.Seq, "err", err)
	}
	o.forget(m)
	o.mu.Lock()
	o.st.lastAcked, o.st.lastSuccess = m.Seq, o.clock.Now()
	o.st.sentBatches++
	o.st.sentPoints += int64(m.Count)
	o.mu.Unlock()
	o.met.sentBatches.Inc()
	o.met.sentPoints.Add(float64(m.Count))
	return nil
}

// forget removes m from its in-memory queue.
func (o *Outbox) forget(m meta) {
	o.mu.Lock()
	defer o.mu.Unlock()
	q := o.queues[m.Priority]
	for i := range q {
		if q[i].Seq == m.Seq {
			o.backlog.Add(-q[i].Size) // before the slice shifts over q[i]
			o.queues[m.Priority] = append(q[:i], q[i+1:]...)
			return
		}
	}
}

// reject moves a batch to the rejected state, keeping its body.
func (o *Outbox) reject(r record, m meta, reason string) error {
	o.fails = 0
	r.meta = m
	r.Reason = reason
	if err := o.kv.Put(rejectKey(m.Seq), r.encode()); err != nil {
		return fmt.Errorf("keep rejected batch %d: %w", m.Seq, err)
	}
	if err := o.kv.Delete(queueKey(m.Priority, m.Seq)); err != nil {
		o.log.Error("delete rejected batch from queue", "seq", m.Seq, "err", err)
	}
	o.forget(m)
	o.mu.Lock()
	r.meta.Reason = reason
	o.rejected = append(o.rejected, r.meta)
	o.mu.Unlock()
	o.met.rejected.Inc()
	o.log.Error("cloud rejected batch; kept as rejected", "seq", m.Seq, "kind", m.Kind,
		"points", m.Count, "reason", reason)
	return nil
}

// Requeue puts a rejected batch back in its queue, with the same seq.
func (o *Outbox) Requeue(seq uint64) error {
	return o.takeRejected(seq, func(r record) error {
		r.Reason = ""
		v := r.encode()
		if err := o.kv.Put(queueKey(r.Priority, r.Seq), v); err != nil {
			return fmt.Errorf("requeue batch %d: %w", seq, err)
		}
		r.Size = int64(len(v))
		o.mu.Lock()
		q := append(o.queues[r.Priority], r.meta)
		sortBySeq(q)
		o.queues[r.Priority] = q
		o.backlog.Add(r.Size)
		o.mu.Unlock()
		o.signal()
		return nil
	})
}

// Discard deletes a rejected batch for good; the operator decided.
func (o *Outbox) Discard(seq uint64) error {
	return o.takeRejected(seq, func(r record) error {
		o.log.Warn("rejected batch discarded", "seq", seq, "points", r.Count)
		return nil
	})
}

func (o *Outbox) takeRejected(seq uint64, then func(r record) error) error {
	v, err := o.kv.Get(rejectKey(seq))
	if err != nil {
		return fmt.Errorf("batch %d: %w", seq, ErrNotRejected)
	}
	r, err := decodeRecord(v)
	if err != nil {
		return fmt.Errorf("batch %d: %w", seq, err)
	}
	if err := then(r); err != nil {
		return err
	}
	if err := o.kv.Delete(rejectKey(seq)); err != nil {
		return fmt.Errorf("delete rejected batch %d: %w", seq, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, m := range o.rejected {
		if m.Seq == seq {
			o.rejected = append(o.rejected[:i], o.rejected[i+1:]...)
			break
		}
	}
	return nil
}
