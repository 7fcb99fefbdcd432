// Package uplink is the edge node's durable outbox to the cloud.
//
// The ingest path calls Outbox.Enqueue after readings are durable in the
// local store. Enqueue only appends to an in-memory pending batch per kind and
// priority; a pending batch is cut when it reaches Config.BatchPoints or
// Config.BatchBytes (by the Enqueue that fills it) or at the next flush tick
// (Config.FlushInterval). Cutting assigns the next sequence number, seals the
// batch (zstd + AES-256-GCM, see package batch) and writes it to the kv.Store
// before the sender can see it. Readings still pending in memory when the
// process dies are in the local store but not in the outbox; Run flushes them
// on a clean stop.
//
// # Keys
//
// All keys live in the kv.Store the Outbox is given (the edge passes a
// prefixed view):
//
//	n                      uint64 big endian: sequence numbers below it may
//	                       have been used. Written before a batch uses one,
//	                       1024 at a time, so a sequence number is never
//	                       reused, not even after every batch was
//	                       acknowledged and deleted; a restart starts at n
//	q <prio:1> <seq:8 BE>  a queued batch record (prio 1 = high, 0 = bulk)
//	r <seq:8 BE>           a batch the cloud rejected (4xx), kept with its
//	                       reason until an operator requeues or discards it
//
// # Record
//
// A batch record is, in order: version byte (1), uvarint seq, varint created
// (Unix ms), priority byte, uvarint length + kind, uvarint count (readings +
// records), varint oldest reading time (Unix ms, 0 if none), uvarint length +
// rejection reason, then the sealed body to the end. DecodeRecord is fuzzed.
//
// # Sending
//
// One sender goroutine posts one batch at a time to <url>/api/v1/ingest with
// an Idempotency-Key of "<edge id>:<seq>" and the request signed by the
// Signer. The body and the key are the same bytes on every retry, so a cloud
// that committed a batch but failed to answer acknowledges the retry without
// storing it twice. Answers:
//
//   - 2xx with {"acked": seq}: the batch is deleted from the outbox.
//   - 408, 425, 429, other status, timeouts, resets: retried. After a failure
//     the next URL is tried at once; when every URL failed in a row the
//     sender backs off (exponential, full jitter, BackoffMin..BackoffMax).
//   - other 4xx: permanent rejection. The batch moves to the rejected state
//     (key r), is logged and counted, and is never deleted silently.
//
// High-priority batches (alerts, events) go before bulk telemetry, but after
// 4 high batches in a row one waiting bulk batch is sent, so bulk is never
// starved. Within a priority batches go in sequence order. Bulk batches are
// paced by a token bucket of Config.DrainRate points/s so that draining a
// backlog after an outage does not starve live ingest of CPU and disk.
//
// # Disk budget
//
// The queued records count against Config.DiskBudgetBytes. When the budget is
// reached, WhenFull decides: "block" makes Enqueue return ErrBacklogFull (the
// broker then does not acknowledge QoS 1 publishes); "drop_oldest" deletes the
// oldest bulk batches to make room, counting and logging every drop. High
// priority batches are never dropped; when only they fill the budget, Enqueue
// returns ErrBacklogFull under either policy. The budget may be overshot by
// the batches pending in memory when it is reached. Rejected batches do not
// count against it (Status shows them; Discard or Requeue them).
//
// A record that does not decode at Open is logged, counted in
// Status.CorruptRecords and left on disk unsent.
package uplink
