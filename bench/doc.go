// Package bench runs edgevault's reproducible benchmarks, each side by side
// with a peer started in the same run on the same machine:
//
//	edgevault bench ingest   MQTT QoS 1 ingest: the edge node vs Mosquitto
//	edgevault bench write    InfluxDB line protocol over HTTP: the edge node vs InfluxDB 1.6
//	edgevault bench storage  one day at 1 Hz: bytes per point at rest and query latency, edge vs InfluxDB 1.6
//	edgevault bench scale    1,000 MQTT devices x 10 series: peak RSS of the edge node
//	edgevault bench rules    1,000 active rules: ingest with vs without, alert latency, memory, 10,000-rule load
//	edgevault bench gateways 1,000 gateways x 20 sensors through groups; 10,000 command round trips
//	edgevault bench drain    10 million buffered points drain to the cloud while live ingest continues
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
// 1-minute averages are each queried once to warm up and --runs times (20)
// timed (HTTP wall time to the last byte, over one keep-alive connection,
// read into a buffer kept from run to run so that the client's own
// allocations are not timed); every answer must hold 86,400 points or
// 1,440 buckets. Neither server reports its own query time.
//
// # scale
//
// Starts the edge node and connects 1,000 sim devices (at most 64 connects
// in flight: the broker refuses connects beyond max_pending_connections),
// each publishing json10 (10 metrics) at 1 msg/s with QoS 1 for 60 s, then
// checks GET /api/v1/devices lists every device with its 10 series and
// reports acked msgs/s, publish-to-ack p50/p99 and the node's VmHWM.
//
// # rules
//
// Starts the edge node (config generated: http.pprof on, a webhook channel
// to a local httptest receiver for critical alerts only) without rules
// (baseline) and with a mix of 1,000 rules (RuleMix: per ten rules four
// thresholds, two expressions, a 1m tumbling and a 5m/1m hopping window, an
// any-2-of pattern, a 5m trend or fluctuation; one in ten rules watches
// every device, the others one device each, so a reading reaches about 24
// rules) plus one critical probe rule, Rounds times, order alternating.
// Each run gets the same two loads from 50 sim devices (json, QoS 1,
// wall-clock timestamps, since older readings would be late for windows
// once the engine's Tick passed them), run as their own `edgevault sim`
// process so that the probes and their webhook receiver do not share the
// load generator's saturated Go scheduler: 100 msg/s per device for 10 s
// (paced), then as fast as an inflight window of 16 allows for 10 s
// (saturating). With --idle-load the sim process runs under the SCHED_IDLE
// policy (set on the thread that starts it, which the child inherits), so
// it gets only the CPU the node and the bench leave, as devices on other
// machines would take none of the node's: a diagnostic of how much of the
// alert latency is the node sharing 2 vCPUs with its own load generator
// (the load is then no longer saturating the node; its rate is what the
// leftover CPU lets the generator send). The ratio of saturating msgs/s
// with over without rules is the throughput figure; edgevault_rules_dropped_total{stage="input"}
// says how many batches the engine never evaluated (rules never
// block ingest: a full queue drops the batch for rules). Each round's two
// runs are back to back, so the report also gives each round's ratio: their
// spread shows how far the box drifts within a command. Each run also
// gives the CPU time per acknowledged message of the saturating load, of
// the server (/proc/PID/stat before and after) and of the sim process
// (its rusage): the rules' cost to the node itself, which the throughput
// ratio dilutes with the generator's share of the 2 vCPUs. Per round, the
// report divides each run's server CPU per message by its generator's (the
// generator does the same work per message in both runs, so this takes out
// the box's speed of the moment, which moves both by up to ±20 % from one
// minute to the next) and gives the rules run's figure over the
// baseline's: the rules' cost to the node, whose spread over rounds is a
// few percent where the msgs/s ratios spread by tens. Its inverse is the
// throughput ratio of a node with the CPUs to itself, its devices on other
// machines, as in a home or a plant.
//
// Before the loads (idle, 10 ms apart) and during each load of the rules
// run, 200 probes spread over the phase
// publish, from their own MQTT client on 64 probe devices, a reading above
// the probe rule's threshold (its value carries the probe number) and at
// once one below it; the latency is from the trigger's Publish call to the
// arrival of its "triggered" POST at the webhook (publish, decode, rule
// queue, engine, alert history, notification queue, HTTP; the rules see a
// reading when it is queued for the store, not once it is durable). A probe
// without its POST within 5 s is lost.
//
// The peer (--peer, on by default): each round ends with a run of the same
// loads and probes through a bare Mosquitto (set_tcp_nodelay on, else a
// probe's write waits behind the subscriber's delayed ACK of the one
// before), each probe timed from its Publish call to its arrival at a QoS 1
// subscriber in the bench, subscribed to the probe devices' topics only:
// the same trip as an alert's, in on a connection beside the load's and out
// to the bench's process, with nothing decoded, evaluated, recorded or
// posted on the way. The report gives, per phase, the median over rounds
// of the alerts' p99 beside the broker's. With --mochi-peer each round also
// runs them through a bare mochi-mqtt broker, the library the node's own
// broker is built on, with nothing but a hook letting every client in
// (`edgevault bench mochi-peer`, its own process, on a free port): a Go
// broker's floor on the same machine.
//
// Memory: the node's heap after a forced GC (GET /debug/pprof/heap?gc=1,
// the MemStats at the end of the text profile), after both loads, with
// minus without rules, per rule: rules, their state (windows, samples,
// alerts) and what they kept (alert history). A last node starts with
// 10,000 rules and no traffic: process start to /healthz (config decoding,
// validation and the compilation of every rule) against the baseline's,
// its idle heap per rule against the baseline's idle heap, and the time of
// one POST /api/v1/rules (the service compiles the whole set on a change).
//
// # gateways
//
// Starts the edge node (config generated: the sim-env contract of the sim
// gateways, gateway.heartbeat_interval 10s) and runs sim.RunGateways:
// 1,000 gateways (ids bgw-NNNN, at most 64 connects in flight) of 20
// sensors each, each sending a JSON group envelope of 20 frames (100
// readings) every second, 60 reports per gateway with deterministic
// timestamps, resending what is not acked within 5 s. No backlog means
// every report acked, none resent, none left unacked or overflowed; the
// report-to-ack latency is the sim's (first send to ack). Every series of
// the first 50 gateways is counted back over REST and GET /api/v1/devices
// must list every sensor with its 5 series.
//
// Then 50 answering gateways (cgw-NNNN, reporting every second meanwhile)
// and 10,000 commands, POST /api/v1/devices/{sensor}/commands from 16
// workers: the round trip is from the POST to the gateway's
// command_result passing the node's broker, seen by a subscriber of
// gw/+/up (the broker routes a publish only after the node handled it, so
// the command is succeeded by then). The node's own view, created to
// updated of the succeeded commands (GET /api/v1/commands), is reported
// beside it.
//
// # drain
//
// Starts `edgevault cloud` (embedded store; generated config registering
// one edge with random keys) and the edge node, whose uplink URL is a
// forwarding proxy in the bench process (uplink backoff 100ms..1s, the
// rest default unless -drain-rate or -batch-points say otherwise). The
// proxy answers 503 while the cloud is "down". 10,000,000 points (100
// devices x 2 metrics x 50,000 s: the storage bench's 2-decimal random
// walks at 1 Hz, generated as they are sent) are POSTed to /write in
// 5,000-line batches, precision s, and the bench waits until the edge's
// GET /api/v1/uplink shows nothing pending and every point in queued
// batches. Then the proxy opens: the drain lasts from that moment until
// the last batch queued before it is acknowledged (the uplink sends bulk
// batches in sequence order, so these are the first acknowledged items);
// meanwhile a live load POSTs 5,000 points/s of 50 other devices to the
// edge (one POST per 100 ms), whose achieved rate and POST latency are
// reported. The proxy tallies every acknowledged batch from its clear
// header (batch.PeekHeader): telemetry body bytes per point are the bytes
// on the wire, with the HTTP request headers as a second figure; the edge's
// backlog_bytes per point is the outbox's own view. The same data is sized
// as line protocol (the bodies sent), one JSON object per point and one
// JSON object per device-second (an MQTT payload; encoding/json's shortest
// numbers). VmRSS of both processes is sampled every 100 ms (peak per
// phase) and VmHWM read after the drain; CPU time of each process in the
// drain and the load average are reported, since a busy machine slows the
// drain. After the live load stops and the edge's backlog is empty, every
// series of the loaded and the live devices is counted in the cloud (GET
// /api/v1/edges/{edge}/query, paged) against what was written.
//
// Every child process is killed and every temp dir removed when the bench
// ends, on error and on Ctrl-C; children also get SIGKILL if the bench process
// dies (Linux parent-death signal). Missing binaries are reported with a hint
// to run scripts/install-deps.sh.
package bench
