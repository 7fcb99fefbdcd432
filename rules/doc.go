/*
Package rules is edgevault's real-time analytics engine: windowed
aggregation into derived series, alert rules with a lifecycle, and complex
event patterns, evaluated on each reading as it arrives at the edge.

# Using the engine

	e := rules.New(rules.Options{Now: clock, Emit: nonBlockingSend})
	err := e.Set(ruleList)          // atomic replace; invalid rules are refused
	e.Observe(reading)              // hot path: only rules indexed under the metric run
	e.ObserveBatch(readings)        // the same, under one lock
	e.ObserveBatchAt(readings, at)  // and its outputs carry at (Output.Received)
	e.DeviceStatus("dev", false, t) // online/offline transitions are events too
	e.Tick()                        // once a second or so: windows close, `for` elapses

Outputs are a tagged union (Output): derived points (OutputPoint, a
point.Reading to store or publish), alert transitions (OutputAlert) and
run-time rule failures (OutputError). Emit is called synchronously under the
engine's lock, so it must not block and must not call back into the engine.
The engine keeps no durable state: the caller persists alert history and
derived points. In the edge node the engine sees a message's readings as
soon as they are queued for the store, before they are durable (an alert
does not wait for an fsync), so it may act on a reading that never becomes
durable (see docs/design.md). A rule that fails at run time
Options.MaxFailures times in a row enters the error state (Status) and is skipped until it is set again
(even unchanged); the other rules carry on.

# Rule schema

Rules are read from YAML (ParseYAML, under a top-level "rules:" key) or JSON
(ParseJSON, ParseRuleJSON) with strict decoding: unknown keys are errors.
Durations are strings such as "90s", "5m", "1h". Compile (or Set) refuses an
invalid rule with an *Error naming the rule, the key and the reason and, for
expressions, the 1-based line and column inside the expression.

Common keys:

	id:          required; a valid series name (no control characters)
	kind:        window | alert | pattern
	description: free text
	disabled:    true keeps the rule loaded but inactive
	match:       which events the rule sees
	  metric:    metric name or glob (* ? [..]); omitted: every metric
	  metrics:   several names or globs
	  device:    device id or glob; omitted: every device
	  tags:      {key: glob} every tag must be present and match
	  event:     reading (default) | status (online/offline transitions)
	  where:     boolean expression filter

Rules are indexed by exact metric name and exact device, so a reading only
reaches the rules whose metric and device can match it (plus the few with
metric globs or no metric and a device glob, checked for every reading). Trend and fluctuation keep running sums and
running minima and maxima, so a reading costs the same however many samples
their duration holds. Rules compiled together (CompileAll) that repeat an
expression share its program; SetCompiled keeps the state of every rule
handed over again.

# Window rules

	rules:
	  - id: room-temp-5m
	    kind: window
	    match: {metric: temperature}
	    window:
	      type: tumbling          # tumbling | hopping | count
	      size: 5m                # tumbling, hopping
	      hop: 1m                 # hopping only; size/gcd(size, hop) <= 1000
	      count: 10               # count only: emit every N readings per key
	      key: tag:room           # device (default) | all | tag:NAME | meta:NAME
	      aggregate: avg          # count sum avg min max stddev first last
	      value: "w.max - w.min"  # or a numeric expression instead of aggregate
	      lateness: 30s           # allowed lateness (time windows)
	      output: {metric: temperature_avg_5m, device: rooms}

Windows are aligned to the Unix epoch. Each key keeps a watermark: the
latest event time it has seen (or the latest Tick, whichever is later) minus
the lateness. A window emits one derived point when the watermark passes its
end; the point's time is the window start (as in the store's rollups), its
device the key's device (key device) or output.device (default: the rule id),
its tags the key's tag (tag:NAME, meta:NAME). A reading behind the watermark
is late: counted in Stats().Late and RuleStatus.Late, not aggregated (the
caller still stores it). So is one more than 2^62 ms (146 million years)
from the epoch, a clock gone wrong, which does not move the watermark. Count windows ignore the watermark; their point
carries the time of their latest reading. stddev is the population
standard deviation. Derived points are fed back to the rules, so an alert can
watch a window's output metric (up to 3 levels deep). A time window is kept
as panes of gcd(size, hop): a reading is aggregated once whatever size/hop,
and a window merges its panes when it closes.

A window over several metrics keeps aggregates per metric; in the value
expression w holds those of the first metric seen and agg["name"] those of
each. The air-quality index is the built-in function aqi(agg): the maximum
of the US EPA sub-indices of pm25, pm10 (µg/m³), co, o3 (ppm), no2 and so2
(ppb) computed from each window average (see SubIndex for the tables):

	rules:
	  - id: aqi-1h
	    kind: window
	    match: {metrics: [pm25, pm10, co, no2, o3, so2]}
	    window: {type: tumbling, size: 1h, value: "aqi(agg)", output: {metric: aqi}}

aqi_sub("pm25", value) gives one sub-index and may be used anywhere. A
value expression that yields NaN emits nothing.

# Alert rules

	rules:
	  - id: freezer-warm
	    kind: alert
	    match: {metric: temperature, device: "freezer-*"}
	    threshold: {op: ">", value: -10}    # > < >= <= == !=
	    # or condition: 'value > -10 && meta["type"] == "freezer"'
	    # or trend: {over: 30m, above: 0.1, per: 1m, min_samples: 3}
	    # or fluctuation: {over: 10m, above: 0.2, min_samples: 2}
	    for: 5m          # condition must hold this long (event time; Tick also checks)
	    cooldown: 30m    # least time between two triggers for one series
	    severity: critical               # info | warning (default) | critical
	    message: "{device} at {value}"   # also {rule} {metric} {severity}

Exactly one of threshold, condition, trend and fluctuation is set. Trend is
the least-squares slope of the series over the duration, in units per "per"
(default one minute), compared with above or below. Fluctuation is
(max-min)/|mean| over the duration (0.2 = 20 %).

There is at most one alert per rule and series (Alert.Key: the device, plus
the tags in braces when the reading has tags). Lifecycle: triggered ->
acknowledged (Engine.Ack, by whom) -> resolved, automatically when the
condition stops holding or by hand (Engine.Resolve). A rule that is changed
or removed by Set resolves its active alerts. Status rules (match.event:
status) see online true/false and value 1/0:

	rules:
	  - id: offline-10m
	    kind: alert
	    match: {event: status, device: "sensor-*"}
	    condition: "!online"
	    for: 10m

# Pattern rules

	rules:
	  - id: predictive-maintenance
	    kind: pattern
	    severity: critical
	    pattern:
	      type: any        # all | any | sequence
	      n: 2             # any: how many steps
	      within: 10m
	      per: device      # device (default) | all (across devices, Alert.Device "*")
	      steps:
	        - {match: {metric: temperature}, threshold: {op: ">", value: 80}}
	        - {match: {metric: vibration}, threshold: {op: ">", value: 5}}
	        - {match: {metric: power}, fluctuation: {over: 10m, above: 0.2}}

Each step has its own match and one condition. all and any trigger when the
steps (all of them, or n) each held at some event within the last "within";
the alert resolves when that stops being true (on a later event or Tick).
sequence triggers when the steps held in order (each at or after the one
before) with the last within "within" of the first; its alert resolves
"within" after the match. The rule-level match of a pattern filters the
device and tags of every step.

# Expressions

Expressions use github.com/expr-lang/expr over Env:

	value   float64   numeric value (bool as 0/1, NaN for strings)
	text    string    string value ("" for other kinds)
	device, metric    string
	tags    map[string]string (tags["room"])
	time    int64     event time, Unix ms
	event   string    "reading", "status" or "window"
	online  bool      status events
	meta    map[string]any  device metadata (Options.Meta)
	latest(device, metric) float64  latest value of another series, NaN if unknown
	w, agg            window aggregates (window value expressions only)
	aqi(agg), aqi_sub(pollutant, concentration)

plus expr's built-ins (abs, min, max, ceil, floor, len, ...). Comparisons
with NaN are false. Expressions are limited to 2000 nodes.
*/
package rules
