// Package bench runs edgevault's reproducible benchmarks, each side by side
// with a peer started in the same run on the same machine:
//
//	edgevault bench ingest   MQTT QoS 1 ingest: the edge node vs Mosquitto
//	edgevault bench write    InfluxDB line protocol over HTTP: the edge node vs InfluxDB 1.6
//	edgevault bench storage  one day at 1 Hz: bytes per point at rest and query latency, edge vs InfluxDB 1.6
//	edgevault bench scale    1,000 MQTT devices x 10 series: peak RSS of the edge node
//
// # ingest
//
// One run starts the edge node (this binary, `edge` subcommand, data in a
// temp dir, free ports) and Mosquitto (`mosquitto -c` with a generated config:
// listener on 127.0.0.1, anonymous, no persistence), one after the other, and
// drives each with the same sim.Run load: 50 devices, QoS 1, the json format
// (5 points per message), as fast as an inflight window of 16 per client
// allows, for a fixed duration. Timestamps are deterministic (device i's k-th
// message is start+k ms) so that no two messages of a device share a
// timestamp and every acked point can be counted back: the bench queries
// every series over REST and checks that the stored count equals acked x 5.
// It then asks the node to compact (POST /api/v1/admin/compact; if that is
// not available, it says so and measures the data directory as it is) and
// reports bytes per point on disk, and the peak RSS (VmHWM) of the edge
// process.
//
// Mosquitto acknowledges a QoS 1 publish once it is in memory; the edge node
// only once it is durable in its store. The ratio edgevault/mosquitto shows
// the price of that promise.
//
// # write
//
// POSTs batches of 5000 line-protocol lines (5 fields each) over one
// keep-alive HTTP connection to /write of the edge node and of influxd (Debian's
// influxdb 1.6, generated config: data, meta and wal in a temp dir, HTTP on a
// free port, reporting and every other service off; the database is created
// with POST /query), for a fixed number of batches, and reports points/s and
// the ratio.
//
// # storage
//
// Generates one day of 1 Hz data for 10 devices x 2 metrics (2-decimal
// random walks from 21.00 and 45.00, steps of a random multiple of 0.01
// within +-0.05, seeded): 1,728,000 points, POSTed to /write in 5000-line
// batches with precision s, first to the edge node, then to influxd. Each
// target's stored points are counted back. The edge node is then compacted
// (POST /api/v1/admin/compact); influxd, which has no compaction trigger,
// runs with cache-snapshot-write-cold-duration 5s and
// compact-full-write-cold-duration 15s (defaults 10m and 4h) and the bench
// waits until its WAL is empty and its TSM files have not changed for 30 s.
// Both are stopped with SIGTERM and measured at rest: sum of file sizes,
// allocated blocks (du) and the engine's own data files (*.sst, *.tsm); the
// edge's data dir, influxd's data and wal dirs. Both are restarted on the
// same directories and measured again (Pebble drops the WAL files it kept
// for recycling when it opens). Then the raw day of one series and its
// 1-minute averages are each queried once to warm up and 20 times timed
// (HTTP wall time to the last byte, over one keep-alive connection); every
// answer must hold 86,400 points or 1,440 buckets. Neither server reports
// its own query time.
//
// # scale
//
// Starts the edge node and connects 1,000 sim devices (at most 64 connects
// in flight: the broker refuses connects beyond max_pending_connections),
// each publishing json10 (10 metrics) at 1 msg/s with QoS 1 for 60 s, then
// checks GET /api/v1/devices lists every device with its 10 series and
// reports acked msgs/s, publish-to-ack p50/p99 and the node's VmHWM.
//
// Every child process is killed and every temp dir removed when the bench
// ends, on error and on Ctrl-C; children also get SIGKILL if the bench process
// dies (Linux parent-death signal). Missing binaries are reported with a hint
// to run scripts/install-deps.sh.
package bench
