// Package resync restores an edge node's data directory from the cloud, so
// that a home that loses its gateway loses nothing: `edgevault restore
// --from-cloud URL --edge ID --data DIR` on the replacement box, then
// `edgevault edge --data DIR`.
//
// What comes back, in this order:
//
//  1. The edge's metadata: the cloud keeps the latest value of every key
//     the edge synced (kinds registry, alerts, commands, deadletters; see
//     batch.Change and GET /api/v1/edges/{edge}/state); each is written into
//     the new store's metadata, so the registry
//     (devices, names, types, metadata), the rules made over REST, the
//     alert history, the command history and the dead letters are as the
//     cloud last heard of them.
//  2. The declared configuration the edge last sent (edge.ConfigKey:
//     contracts, rules and routing from its config file) is written as
//     DIR/restored.yaml, to pass to `edgevault edge --config` (notification
//     channels are not synced: they hold secrets).
//  3. History: every series of the edge with points in [From, To) is read
//     page by page from the cloud's query API and appended to the new
//     store.
//  4. The outbox position: the new node numbers its batches after the
//     highest sequence the cloud acknowledged from the old one (from GET
//     /api/v1/admin/edges), so the cloud does not take its first batches
//     for retries of old ones.
//
// The target directory must be empty or absent. The admin token is needed
// for step 4, and sent on every request.
package resync
