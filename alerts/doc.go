/*
Package alerts keeps the durable history of alerts raised by the rules
engine: one record per alert lifecycle, with a numeric id that the REST API
and the notification channels use to name it.

# Lifecycle

The engine emits transitions (rules.Alert); Record folds them into records.
An alert is one (rule, key) lifecycle: a trigger opens a record with a new
id, acknowledgement (by whom, when) and resolution (automatic when By is
empty, or by hand) update that same record, and the next trigger after the
resolution opens a new one. Ack and Resolve change a record by id for the
REST API; the caller also tells the engine (Engine.Ack, Engine.Resolve),
whose echoing transition then finds the record already in that state and
changes nothing. Call History first, then the engine.

Edge cases, all deliberate:

  - an acknowledgement or resolution with no open record (the trigger was
    evicted, or was recorded by an older process) creates the record from
    the transition, with triggered_at taken from Alert.Since;
  - a trigger for a (rule, key) that still has an open record with a
    different trigger time (the engine restarted and lost its state) resolves
    the old record first, by "edgevault:superseded";
  - acknowledging an acknowledged alert changes nothing; acknowledging or
    resolving a resolved one is ErrState.

A record is written to the kv.Store before Record, Ack or Resolve returns.

# Storage layout

Keys, under whatever prefix the caller gives the store (kv.WithPrefix):

	"r" + 8-byte big-endian id -> record (below)
	"seq"                      -> 8-byte big-endian id: ids below it may be in use

Ids are leased in blocks of 1024 (one write of "seq" per block), so they
stay monotonic across restarts; a restart may skip the rest of a block.

A record is version byte 1, then:

	flags     byte      bit 0 acknowledged, bit 1 resolved
	id        uvarint
	rule, key, device, metric, severity, state, message,
	ack_by, resolved_by               uvarint length + bytes each
	tags      uvarint count, then key and value as strings
	value     8 bytes   big-endian float64 bits
	triggered varint    Unix ms
	acked     varint    Unix ms, present when flags bit 0
	resolved  varint    Unix ms, present when flags bit 1

Unknown versions and truncated or oversized fields are errors; a record
that does not decode is logged and skipped when the history loads.

# Bounds

The history holds at most Options.MaxEntries records (default 100000). When
it grows past that, the oldest resolved records are deleted first (then the
oldest open ones, if nothing is resolved) in one batch of 1 % of the bound,
and counted in edgevault_alerts_evicted_total. A compact in-memory index of
every record (id, rule, device, severity, state, trigger time) is built when
the history opens, so List filters without reading the store and reads only
the records it returns.
*/
package alerts
