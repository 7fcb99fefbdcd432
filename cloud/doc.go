// Package cloud is the `edgevault cloud` service: it takes signed, encrypted
// batches from edge nodes (package batch), stores them idempotently, and
// answers queries on one edge's data and statistics across edges.
//
// # Storage
//
// Two backends sit behind the Backend interface, chosen by storage.backend
// in the config. The default, embedded, is the store (store.DB under
// <data>/store, fsync on every group commit, since an acknowledgement is a
// promise to the edge). All edges share one store: one Pebble instance, one
// WAL and one cache scale to thousands of edges where a store per edge
// would not. postgres (package pgstore) keeps the same data in PostgreSQL,
// which several cloud processes may share. Every reading is stored with the
// extra tag _edge=<edge id> (EdgeTag); a reading that already carries that
// tag is refused and counted.
//
// The store's metadata (Meta) holds, under these keys:
//
//	cloud/edge/<id>                         JSON EdgeConfig of an edge registered at run time
//	cloud/acked/<id>                        the edge's acknowledged sequence set (below)
//	cloud/state/<id>/<kind>/<key>           the latest change of one key of the edge's metadata
//	                                        (batch.Change op/key/value; see state.go): applied only
//	                                        if not older, deletes kept as tombstones
//	cloud/rec/<id>/<kind>/<seq:8><index:4>  a record of a registry, deadletters, alerts or
//	                                        commands batch that is not an edge change (big-endian
//	                                        seq and index)
//
// # Idempotent ingest
//
// POST /api/v1/ingest verifies the request signature (batch.VerifyRequest:
// edge known, HMAC good, timestamp within Skew, nonce unseen), then, holding
// the edge's lock, checks the sequence (from Idempotency-Key) against the
// edge's acknowledged set. An acknowledged sequence answers 200
// {"acked":seq,"duplicate":true} and changes nothing. Otherwise the body is
// opened (batch.Open, bounded by MaxBody, MaxRaw, MaxItems), its header must
// repeat the request's edge and sequence, readings are appended and records
// put, and only then is the sequence added to the set and the set saved.
// The answer is 200 {"acked":seq,"stored":n,"rejected":m}; rejected readings
// (invalid names, kind conflicts) are acknowledged too, since resending them
// cannot help, and are logged and counted in metrics.
//
// On the embedded store the set is written without a disk flush of its own
// (store.DB.PutMetaLazy): the readings are flushed already, and a set lost
// in a crash only costs resends. A crash between the store write and saving
// the set makes the edge retry
// a batch that is already stored; storing it again changes nothing, because
// the store keeps one value per series and timestamp and records are keyed
// by sequence and index. The same holds when the set forgets sequences: it
// keeps the highest contiguous sequence (every batch 1..n acknowledged) and
// at most 4096 sequences above it, dropping the lowest when full.
//
// Every refusal stores nothing and answers JSON {"error":..., "code":...}:
//
//	401 bad_signature    signing headers missing or malformed, HMAC mismatch (wrong or tampered key/body)
//	401 unknown_edge     no keys for X-Edgevault-Edge
//	408 stale_timestamp  X-Edgevault-Timestamp more than Skew (5m) from the cloud clock; re-sign and retry
//	409 replay           nonce already used; re-sign (new nonce) and retry
//	413 too_large        body over MaxBody, payload inflating past MaxRaw (zstd bomb), too many items
//	400 undecodable      body does not decode or decrypt, header/request mismatch, unknown kind
//	400 bad_request      sequence 0
//
// With a SharedBackend (PostgreSQL) the edge's lock only orders the
// batches one process handles: the set is read afresh for every batch and
// the sequence is added to the stored set atomically (UpdateMeta), so two
// processes acknowledging batches of one edge lose nothing; a batch both
// store at once is stored twice, which changes nothing. An edge registered
// at one process is looked up in Meta by the others when it first calls;
// re-keying reaches the other processes when they restart.
//
// Nonces are remembered in memory for twice the skew, so a restarted cloud
// accepts a replay of a request from the last minutes once; the idempotent
// store makes that harmless.
//
// # Queries
//
//	GET  /api/v1/edges/{edge}/query      the edge API's /api/v1/query (same parameters and
//	                                     answer, served by package api) scoped to one edge
//	GET  /api/v1/edges/{edge}/records    ?kind=alerts|registry|deadletters|commands&after=seq&after_index=&limit=
//	                                     the edge's metadata changes in order (batch.Change JSON);
//	                                     a page may end inside a batch: pass its last seq and index
//	GET  /api/v1/edges/{edge}/series     the edge's series with their time range
//	GET  /api/v1/edges/{edge}/state      ?kind=&prefix=&after=&limit=  the current value of every key
//	                                     the edge synced, in key order (next: after of the next page)
//	GET  /api/v1/devices                 ?edge=&type=  devices across edges, from the synced registries
//	GET  /api/v1/alerts                  ?edge=&state=&severity=&device=&rule=  alerts across edges,
//	                                     newest first, from the synced alert histories
//	GET  /api/v1/stats                   ?metric=&from=&to=&step=&agg=count,avg,min,max&edge=&device=&type=
//	                                     per edge and bucket: count, avg, min, max over its series
//	GET  /api/v1/admin/backup            online snapshot of the embedded store (tar+zstd; 501 on
//	                                     PostgreSQL: use pg_dump); see package backup
//	GET  /api/v1/admin/edges             edges with their source and highest contiguous ack
//	POST /api/v1/admin/edges             {"id","sign_key","data_key"} registers or re-keys an edge
//	GET  /metrics, /healthz
//
// Query routes (edges/{edge}/query, records, series, and stats) need
// "Authorization: Bearer <read_token or admin_token>" once either token is
// configured (401 otherwise); with neither they are open, and the cloud
// warns at start.
//
// Admin routes need "Authorization: Bearer <admin_token>" and are disabled
// when no token is configured. Edges from the config file cannot be changed
// over the API.
package cloud
