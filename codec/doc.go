// Package codec turns MQTT messages into readings with declared, versioned
// "parsing contracts", and parses InfluxDB line protocol for HTTP /write.
//
// # Contracts
//
// A contract says which topics it decodes and how. Contracts are tried in
// order: the user's (config key contracts, or POST /api/v1/contracts) first,
// then the built-in presets; the first whose topic matches decodes the
// message, and a message no contract matches is left alone (ErrNoContract).
//
//	contracts:
//	  - name: sim-env            # required; with version, the contract's id "sim-env@v1"
//	    version: 1
//	    description: free text
//	    topic: sim/{device}/bin  # MQTT filter, see Topics
//	    format: binary           # json | line | binary | status | ignore | zigbee2mqtt | tasmota
//	    device_field: meta.id    # json formats only: payload path naming the device
//	    json: {...}              # only with a json format
//	    binary: {...}            # only with format binary
//	    line: {...}              # only with format line
//
// Unknown keys are errors, in YAML and in JSON. Every compile error names
// the contract, the key and the reason ("contract x@v1: json.fields[0]:
// metric: missing for path \"a.b\""); every decode error names the contract
// and what failed (field path, byte offset, line number), and the message
// goes to the dead-letter store with that sentence.
//
// # Topics
//
// A topic is an MQTT filter: levels separated by /, + matches one level,
// # (last) matches any number of levels including none. A level {name}
// matches one level and captures it: {device} names the device, any other
// name becomes a series tag (site/{site}/{device} tags readings with
// site=...). Filters starting with a wildcard or capture do not match
// topics starting with $ (MQTT-4.7.2-1). A device id containing / cannot be
// captured by one level.
//
// The device comes from device_field when set, else from {device}; json and
// binary contracts must have one of them.
//
// # Format json
//
//	json:
//	  fields:                       # optional mappings, tried first
//	    - {path: sensors.env.temp, metric: temperature, unit: "°C"}
//	    - {path: sensors.env.temp_f, metric: temp_c, scale: 0.5556, offset: -17.78}
//	    - {path: wind.gusts, metric: gusts, type: int}   # float (default), int, bool, string
//	  mapped_only: false            # true drops every field without a mapping
//	  ignore: [meta, fw_version]    # paths; a path skips its subtree
//	  timestamp: meta.t             # "" = top-level timestamp/time/ts; "-" = receive time
//	  time_unit: auto               # auto | s | ms | us | ns | rfc3339
//	  separator: "_"                # joins nested keys: "_" (default) or "."
//	  on_off_bool: false            # "ON"/"OFF" strings become booleans
//	  metric: ""                    # metric of a bare scalar payload
//
// The payload may be:
//
//   - an object: every mapped path gives its metric; every other leaf gives a
//     reading named by its path joined with the separator ({"a":{"b":1}} is
//     metric a_b; array elements are numbered, a_0, a_1). Numbers become
//     floats, booleans bools, strings strings; null is skipped. The top-level
//     keys timestamp, time, ts, device and device_id (any case) are never
//     readings. "_" is the default separator because "." is common in metric
//     names of other systems and _ keeps names valid identifiers in queries.
//   - an array of objects, each decoded as above with its own timestamp, or
//     of points {"metric":"t","value":1,"ts":1700000000}.
//   - a bare scalar (21.5, true, "eco"), named by json.metric or by a
//     {metric} topic level (which is then not a tag).
//
// Timestamps: a number is seconds, ms, us or ns as declared, or guessed by
// magnitude (below 1e11 seconds, below 1e14 ms, below 1e17 us, else ns); a
// string is RFC 3339, or a zone-less "2006-01-02T15:04:05" taken as UTC.
// Without a timestamp the reading time is the receive time.
//
// scale and offset give value = raw*scale + offset (a zero scale means 1).
// unit documents the metric for people and the API; it is not stored with
// readings, so adding a unit does not change series identity.
//
// Limits: a payload is at most MaxPayload bytes, nests at most MaxDepth
// levels and yields at most MaxReadings readings.
//
// # Format binary
//
// Fixed fields at byte offsets; the simulator's layout (8 bytes, big endian):
//
//	contracts:
//	  - name: sim-env
//	    topic: sim/{device}/bin
//	    format: binary
//	    binary:
//	      length: 8            # exact length; 0 = at least the end of the last field
//	      endian: big          # default for fields: big (default) | little
//	      fields:
//	        - {metric: temperature, offset: 0, type: i16, scale: 0.01, unit: "°C"}
//	        - {metric: humidity, offset: 2, type: u16, scale: 0.01, unit: "%"}
//	        - {metric: battery, offset: 4, type: u8, unit: "%"}
//	        - {metric: motion, offset: 5, type: bool, bit: 0}
//	        - {metric: co2, offset: 6, type: u16, unit: ppm}
//
// An optional binary.timestamp {offset, type: u32 | u64 | i64, unit: s
// (default) | ms | us | ns, endian} gives the reading time; without it the
// receive time is used.
//
// Types: u8 u16 u32 u64 i8 i16 i32 i64 f32 f64, bool (one bit, bit 0..7 of
// the byte at offset, 0 = least significant) and bits (bits 1..63 wide,
// starting at bit "bit" of the unsigned integer of ceil((bit+bits)/8) bytes
// at offset read in the field's byte order). Each field may set its own
// endian. Integers are stored as int, u64 above 2^63-1 as float; scale or
// value_offset (value = raw*scale + value_offset; the byte position is
// already called offset) make the reading a float. Fields may overlap. A
// payload of the wrong length is rejected with ErrLength and both lengths.
//
// # Format line
//
// InfluxDB line protocol (one or more lines per message), options as for
// HTTP /write (LineOptions, config key line_protocol):
//
//	line:
//	  device_tag: device           # tag naming the device, removed from tags
//	  default_device: ""           # device of lines without the tag
//	  metric_format: field         # field | measurement_field | measurement.field
//	  precision: ns                # ns | us | ms | s | m | h
//
// A {device} topic level names the device of lines without the tag. Every
// field of a line is one reading; the other tags are series tags. Over MQTT
// one bad line rejects the whole message; over HTTP (ParseLineProtocol)
// good lines are kept and each bad line is reported with its number.
// Supported syntax: escapes (\, \= \space in names, \" \\ in strings),
// quoted strings, 1i integers, 1u unsigned (up to 2^63-1), t/T/true/True/
// TRUE and f/F/false/False/FALSE, floats, optional timestamps, # comments,
// blank lines and CRLF. NaN and infinities are rejected.
//
// # Formats status and ignore
//
// status turns a presence payload into a Status for {device}: online,
// offline, true, false, 1, 0, on, off, connected, disconnected (any case,
// optionally JSON-quoted), or an object {"online":true} or
// {"state":"online"} / {"status":"offline"}. ignore accepts messages that
// carry no telemetry, so they are neither decoded nor dead-lettered.
//
// # Presets
//
// Enabled by default (config presets: false disables them), listed by
// GET /api/v1/contracts:
//
//	generic-telemetry         devices/{device}/telemetry      json
//	generic-status            devices/{device}/status         status
//	zigbee2mqtt-bridge        zigbee2mqtt/bridge/#            ignore
//	zigbee2mqtt-availability  zigbee2mqtt/{device}/availability status
//	zigbee2mqtt-set           zigbee2mqtt/+/set/#             ignore
//	zigbee2mqtt-get           zigbee2mqtt/+/get/#             ignore
//	zigbee2mqtt               zigbee2mqtt/{device}            zigbee2mqtt
//	tasmota-sensor            tele/{device}/SENSOR            tasmota
//	tasmota-state             tele/{device}/STATE             tasmota
//	tasmota-lwt               tele/{device}/LWT               status
//	telegraf                  telegraf/{device}/#             line
//
// Format zigbee2mqtt is json with on_off_bool (state "ON" is true: a switch
// is a boolean, so it can drive rules and count as on-time), nested objects
// such as color flattened with _ (color_x), last_seen ignored and the
// receive time as reading time.
//
// Format tasmota is json with on_off_bool (POWER "ON" is true) and nested
// sensors flattened with _: {"AM2301":{"Temperature":22.4}} is metric
// AM2301_Temperature, {"Wifi":{"RSSI":76}} is Wifi_RSSI. Tasmota's Time is
// device local time without a zone, so the receive time is used instead;
// Time, TempUnit, PressureUnit, SpeedUnit, Uptime (text; UptimeSec is kept)
// and Wifi.BSSId are ignored.
//
// The telegraf preset decodes Telegraf's MQTT output, whose default topic is
// telegraf/<host>/<plugin>, with the host as device.
package codec
