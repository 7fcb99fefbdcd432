// Package routing decides, for every decoded reading, whether the edge node
// stores it, at which uplink priority, and where else it is sent. The
// ingest pipeline calls Router.Route between decoding a message and
// appending its readings; it executes the forwards (MQTT publish, webhook)
// itself.
//
// # Schema
//
//	rules:
//	  - name: zigbee-linkquality    # required, unique; used in errors and metrics
//	    priority: 10                # evaluation order: lower first; ties keep list order (default 0)
//	    match:                      # empty keys match everything; all set keys must match
//	      topic: zigbee2mqtt/#      # MQTT topic filter: + one level, # the rest (also the parent)
//	      device: "*"               # globs: * any run of characters, ? one character
//	      device_type: "*"          # type as the registry knows it
//	      metric: linkquality
//	    action: drop                # store | drop | sample | forward; omitted: decide nothing (see below)
//	    sample: {every: 10}         # sample only: every N (keep 1 in N) or interval: 30s
//	    forward:                    # forward only: topic and/or url
//	      topic: alarms/{device}/{metric}   # placeholders {device} {metric} {topic}
//	      url: https://example.net/hook     # webhook, http or https
//	    uplink_priority: high       # high | normal | low (alias bulk); empty leaves it unset
//	    continue: false             # true: keep evaluating the rules after this one
//
// # Semantics
//
// For each reading, rules run in evaluation order. A rule matches when
// every non-empty match key matches: the topic of the message, the device
// and metric of the reading, and the device's type from the lookup given to
// Route. A matching rule applies its action and, unless it has continue,
// ends the evaluation. Across the rules that match:
//
//   - storage is decided by the first store, drop or sample rule; a later
//     one does not change it and does not advance its sampler;
//   - the uplink priority is set by the first rule with uplink_priority;
//   - forwards accumulate; a reading is sent once per distinct target.
//
// A rule without an action only sets the uplink priority (and with
// continue lets later rules decide storage); an explicit store decides, so
// a store rule above a broad drop rule works as an allow list.
//
// Without any deciding rule a reading is stored at normal priority, so a
// forward rule alone forwards and stores; to forward instead of storing,
// give it continue: true and follow it with a drop rule. Only drop and
// sample rules ever stop a reading from being stored, and each such reading
// is counted.
//
// Sampling state is kept per rule and series (device, metric, tags): every
// keeps the first reading and then one in N; interval keeps a reading when
// none was kept within the interval, by the Router's clock (arrival time,
// not the reading's timestamp, so backfill does not defeat it). A sample
// rule tracks at most Options.MaxSeriesPerRule series; readings of further
// series are stored unsampled and counted as overflow (interval state that
// has expired is swept first to make room). Rebuilding the Router resets
// sampling state.
//
// Counters: Router.Stats, and edgevault_routing_readings_total{rule,outcome}
// with outcome matched, dropped, sampled_out, forwarded or overflow.
//
// # Example
//
// Drop the noisy linkquality of zigbee2mqtt, keep one power reading in 10,
// forward alarms to a topic (and still store them), and send everything
// about alerts before bulk telemetry:
//
//	rules:
//	  - name: alerts-first
//	    priority: 0
//	    match: {metric: "*alarm*"}
//	    action: forward
//	    forward: {topic: "site/alarms/{device}"}
//	    uplink_priority: high
//	    continue: true              # storage is decided below (default: store)
//	  - name: alert-metrics-high
//	    priority: 0
//	    match: {metric: "alert_*"}
//	    uplink_priority: high       # no action: stored by default
//	  - name: zigbee-linkquality
//	    priority: 10
//	    match: {topic: "zigbee2mqtt/#", metric: linkquality}
//	    action: drop
//	  - name: power-1-in-10
//	    priority: 20
//	    match: {metric: power}
//	    action: sample
//	    sample: {every: 10}
//	    uplink_priority: bulk
//
// # Cost
//
// Patterns are compiled once; literal, prefix*, *suffix and *infix* globs
// skip the general matcher, and rules with a literal metric are indexed by
// it, so a reading only meets the rules that can match its metric. Route
// allocates nothing when no rule matches.
package routing
