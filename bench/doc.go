// Package bench runs edgevault's reproducible benchmarks, each side by side
// with a peer started in the same run on the same machine:
//
//	edgevault bench ingest   MQTT QoS 1 ingest: the edge node vs Mosquitto
//	edgevault bench write    InfluxDB line protocol over HTTP: the edge node vs InfluxDB 1.6
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
// Every child process is killed and every temp dir removed when the bench
// ends, on error and on Ctrl-C; children also get SIGKILL if the bench process
// dies (Linux parent-death signal). Missing binaries are reported with a hint
// to run scripts/install-deps.sh.
package bench
