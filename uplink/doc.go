// Package uplink is the edge node's durable outbox to the cloud.
//
// Telemetry reaches the outbox through the local store's tail
// (store.DB.Tail): Observe gets the points of every group commit, in commit
// order, once they are durable locally, and only copies them into the
// in-memory pending batch of their priority (routing rules with
// uplink_priority: high mark series with MarkHigh). Other records (metadata
// changes of the registry, rules, alerts, commands, dead letters) come
// through Enqueue, or EnqueueNow, which also persists their batch at once. A
// pending batch is cut when it reaches Config.BatchPoints or
// Config.BatchBytes (on the outbox's own goroutine for Observe, off the
// commit path) or at the next flush tick (Config.FlushInterval). Cutting
// assigns the next sequence number (a pending batch of more than
// Config.BatchPoints readings, from one large group commit, is split into
// batches of at most that many, in order), seals the batch (zstd + AES-256-GCM, see
// package batch) and writes it to the kv.Store before the sender can see it.
//
// # Nothing lost between the store and the outbox
//
// After each cut the outbox confirms to the store (Options.Confirm,
// store.DB.Confirm) the highest commit whose points are all in persisted
// batches: everything observed, except what is still pending or was in a
// batch that could not be persisted. The store keeps the WAL records above
// the confirmed position and feeds them again after a restart, so points that
// were only pending in memory when the process was killed are sent after all.
// A crash between persisting a batch and confirming sends some points twice;
// the cloud keeps one value per series and timestamp, so they are stored
// once. Admit is asked before readings are stored: under the block policy a
// full backlog refuses them (the publish is not acknowledged).
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
