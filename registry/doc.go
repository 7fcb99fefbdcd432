// Package registry keeps the devices an edge node has heard from: metadata,
// the client and contract they publish with, online state, and the latest
// value of every series. Hot data lives in memory; device records are
// persisted through a kv.Store.
//
// # Presence
//
// A device is online while the client that last published for it is not
// known to be disconnected (ClientDisconnected) and it was seen within
// OfflineAfter. Devices written over HTTP, whose client the broker never
// reports, are online by last-seen alone. An explicit offline status (last
// will, status payload) wins until the device's next message; an explicit
// online status counts as a message, so it also survives a disconnect until
// the timeout. Tick applies the timeout with the injected clock. Transitions
// and first sightings are delivered to Subscribe callbacks.
//
// # Persistence
//
// One key per device, "dev/" + device id, holding a JSON record:
//
//	{"id", "name", "type", "meta", "contract", "client_id",
//	 "first_seen", "last_seen" (Unix ms),
//	 "series": [{"m": metric, "tags": [{"Key","Value"}], "k": kind,
//	             "t": Unix ms, "n": value bits (float64 bits, int64, bool 0/1), "s": string value}]}
//
// The record is written synchronously when a device or one of its series is
// first seen, when its contract changes, and on Update. last_seen and latest
// values are written lazily by Flush (call it periodically; Close calls it),
// so a crash loses at most the last_seen and latest values observed since the
// last Flush; the readings themselves are in the time-series store. Online
// state is not persisted: after a restart every device starts offline and
// comes back online with its next message.
package registry
