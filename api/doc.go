// Package api is edgevault's REST API: one http.Handler, the same on the
// edge node and in the cloud, described by openapi.yaml (embedded, served at
// GET /api/v1/openapi.yaml, and checked against the route table by the tests).
//
// # Errors
//
// Every error answer is JSON {"error": "..."}; the status comes from one
// function, statusOf, which maps the sentinel errors of this package and of
// the registry and dead-letter packages:
//
//	ErrBadRequest, registry.ErrInvalid, deadletter.ErrBadFilter,
//	store.ErrBadQuery, partial writes                            400
//	ErrNotFound, registry.ErrNotFound                            404
//	ErrMethod                                                    405
//	ErrTooLarge, *http.MaxBytesError                             413
//	ErrUnavailable, registry.ErrClosed, store.ErrClosed          503
//	anything else                                                500 (logged, details not sent)
//
// # Parameters
//
// Unknown or repeated query parameters on /api/v1 routes are errors (400):
// a misspelt "form=" silently falling back to a default would return the
// wrong data with a 200. The InfluxDB v1 compatibility routes (/write, /query,
// /ping) ignore parameters they do not use, because clients such as Telegraf
// send credentials, retention policy and consistency parameters that
// edgevault has no use for.
//
// Times are RFC 3339 or Unix milliseconds (an integer). Durations (step) are Go
// durations ("90s", "5m", "1h") or a whole number of days ("1d").
//
// # Bodies
//
// JSON bodies are limited to 1 MiB and decoded strictly (unknown fields are
// errors). /write bodies are limited to Deps.MaxBodyBytes (default 32 MiB),
// after gzip decompression when Content-Encoding is gzip.
package api
