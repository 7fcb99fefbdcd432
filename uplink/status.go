package uplink

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// state is the status the outbox keeps besides its queues.
type state struct {
	lastAcked                uint64
	lastSuccess, lastErrorAt time.Time
	lastError                string
	sentBatches              int64
	sentPoints               int64
	droppedBatches           int64
	droppedPoints            int64
	blocked                  int64
	active                   int // index of the URL in use
	corrupt                  int // records skipped at Open
	urls                     []URLStatus
}

// URLStatus is the state of one cloud URL.
type URLStatus struct {
	URL                 string    `json:"url"`
	Active              bool      `json:"active"`
	ConsecutiveFailures int       `json:"consecutive_failures"`
	LastSuccess         time.Time `json:"last_success,omitzero"`
	LastError           string    `json:"last_error,omitempty"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
}

// BatchInfo describes a queued or rejected batch.
type BatchInfo struct {
	Seq      uint64    `json:"seq"`
	Kind     string    `json:"kind"`
	Priority Priority  `json:"priority"`
	Points   int       `json:"points"`
	Bytes    int64     `json:"bytes"`
	Created  time.Time `json:"created"`
	Reason   string    `json:"reason,omitempty"`
}

// Status is the uplink's state for the REST API.
type Status struct {
	EdgeID          string `json:"edge_id"`
	BacklogBatches  int    `json:"backlog_batches"`
	BacklogPoints   int64  `json:"backlog_points"`
	BacklogBytes    int64  `json:"backlog_bytes"`
	HighBatches     int    `json:"high_batches"`
	PendingPoints   int    `json:"pending_points"` // in memory, not yet in the outbox
	DiskBudgetBytes int64  `json:"disk_budget_bytes"`
	WhenFull        string `json:"when_full"`
	// OldestUnsent is the time of the oldest reading not yet acknowledged;
	// LagSeconds is how far behind it is.
	OldestUnsent   time.Time `json:"oldest_unsent,omitzero"`
	LagSeconds     float64   `json:"lag_seconds"`
	LastAckedSeq   uint64    `json:"last_acked_seq"`
	LastSuccess    time.Time `json:"last_success,omitzero"`
	LastError      string    `json:"last_error,omitempty"`
	LastErrorAt    time.Time `json:"last_error_at,omitzero"`
	SentBatches    int64     `json:"sent_batches"`
	SentPoints     int64     `json:"sent_points"`
	DroppedBatches int64     `json:"dropped_batches"`
	DroppedPoints  int64     `json:"dropped_points"`
	BlockedEnqueue int64     `json:"blocked_enqueues"`
	// CorruptRecords were found at Open and left on disk unsent.
	CorruptRecords int         `json:"corrupt_records"`
	Rejected       []BatchInfo `json:"rejected"`
	URLs           []URLStatus `json:"urls"`
}

// Status returns a snapshot.
func (o *Outbox) Status() Status {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Status{EdgeID: o.cfg.EdgeID, BacklogBytes: o.backlog.Load(),
		HighBatches: len(o.queues[PriorityHigh]), DiskBudgetBytes: o.cfg.DiskBudgetBytes,
		WhenFull: o.cfg.WhenFull, LastAckedSeq: o.st.lastAcked, LastSuccess: o.st.lastSuccess,
		LastError: o.st.lastError, LastErrorAt: o.st.lastErrorAt, SentBatches: o.st.sentBatches,
		SentPoints: o.st.sentPoints, DroppedBatches: o.st.droppedBatches,
		DroppedPoints: o.st.droppedPoints, BlockedEnqueue: o.st.blocked, CorruptRecords: o.st.corrupt,
		Rejected: []BatchInfo{}, URLs: slices.Clone(o.st.urls)}
	var oldest int64
	for _, q := range o.queues {
		s.BacklogBatches += len(q)
		for _, m := range q {
			s.BacklogPoints += int64(m.Count)
			if t := m.oldestTime(); oldest == 0 || t < oldest {
				oldest = t
			}
		}
	}
	addPending := func(pb *pending) {
		s.PendingPoints += pb.count()
		if pb.oldest != 0 && (oldest == 0 || pb.oldest < oldest) {
			oldest = pb.oldest
		}
	}
	for _, pb := range o.pending {
		addPending(pb)
	}
	for pb := range o.cutting { // still pending until written to the outbox
		addPending(pb)
	}
	if oldest != 0 {
		s.OldestUnsent = time.UnixMilli(oldest).UTC()
		s.LagSeconds = max(0, o.clock.Now().Sub(s.OldestUnsent).Seconds())
	}
	for _, m := range o.rejected {
		s.Rejected = append(s.Rejected, m.batch())
	}
	if len(s.URLs) > 0 {
		s.URLs[o.st.active].Active = true
	}
	return s
}

func (m meta) oldestTime() int64 {
	if m.Oldest != 0 {
		return m.Oldest
	}
	return m.Created
}

func (m meta) batch() BatchInfo {
	return BatchInfo{Seq: m.Seq, Kind: m.Kind, Priority: m.Priority, Points: m.Count,
		Bytes: m.Size, Created: time.UnixMilli(m.Created).UTC(), Reason: m.Reason}
}

func sortBySeq(q []meta) {
	slices.SortFunc(q, func(a, b meta) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
}

type metrics struct {
	sentBatches, sentPoints, retries, rejected prometheus.Counter
	droppedBatches, droppedPoints              prometheus.Counter
	blocked, persistErrors                     prometheus.Counter
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "edgevault_uplink_" + name, Help: help})
}

func (o *Outbox) registerMetrics(reg prometheus.Registerer) error {
	o.met = metrics{
		sentBatches:    counter("sent_batches_total", "Batches acknowledged by the cloud."),
		sentPoints:     counter("sent_points_total", "Points in batches acknowledged by the cloud."),
		retries:        counter("send_failures_total", "Failed send attempts (retried)."),
		rejected:       counter("rejected_batches_total", "Batches the cloud rejected (kept as rejected)."),
		droppedBatches: counter("dropped_batches_total", "Bulk batches dropped because the disk budget was full."),
		droppedPoints:  counter("dropped_points_total", "Points in dropped bulk batches."),
		blocked:        counter("blocked_enqueues_total", "Enqueues refused because the backlog was full."),
		persistErrors:  counter("persist_errors_total", "Batches that could not be sealed or stored."),
	}
	if reg == nil {
		return nil
	}
	gauge := func(name, help string, f func(Status) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgevault_uplink_" + name, Help: help},
			func() float64 { return f(o.Status()) })
	}
	cs := []prometheus.Collector{o.met.sentBatches, o.met.sentPoints, o.met.retries, o.met.rejected,
		o.met.droppedBatches, o.met.droppedPoints, o.met.blocked, o.met.persistErrors,
		gauge("backlog_batches", "Batches waiting for the cloud.", func(s Status) float64 { return float64(s.BacklogBatches) }),
		gauge("backlog_points", "Points waiting for the cloud.", func(s Status) float64 { return float64(s.BacklogPoints) }),
		gauge("backlog_bytes", "Bytes of queued batches on disk.", func(s Status) float64 { return float64(s.BacklogBytes) }),
		gauge("lag_seconds", "Age of the oldest unsent reading.", func(s Status) float64 { return s.LagSeconds }),
		gauge("rejected_batches", "Batches held in the rejected state.", func(s Status) float64 { return float64(len(s.Rejected)) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
