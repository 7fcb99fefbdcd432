// Package gateway is the protocol core between the platform and gateways:
// devices that cannot speak MQTT themselves hand their raw frames to a
// gateway (WiFi hub, RS-485 bridge), which wraps them in envelopes on its
// own topic pair. The package is self-contained: the node wires it to the
// broker, the store, the registry and the REST API through function seams.
//
//   - Envelope, DecodeEnvelope, Encode: the message format below.
//   - Topics: the per-gateway topic pair and the broker ACL rules for it.
//   - Decoder: a group's frames decoded each with its contract; one bad
//     frame is a per-item error, the others are kept.
//   - Commands: durable commands with acknowledgement, timeout, resend
//     under the same id, result; resumed after a restart.
//   - Heartbeats: presence of gateways and its transitions.
//   - AckFor: the acknowledgement of a report once it is durable.
//
// # Topics
//
// Each gateway has a pair under a configurable prefix (default "gw"):
//
//	gw/<gateway>/up     gateway -> platform (report, group, heartbeat, status,
//	                    command_ack, command_result)
//	gw/<gateway>/down   platform -> gateway (ack, heartbeat, command)
//
// The gateway id is one topic level (valid as a point name, no '+', '#' or
// '/'). With broker ACLs, a gateway connects with its id as username and
// Topics.ACL grants it write on its up topic and read on its down topic only.
//
// # Envelope
//
// Every message on either topic is one envelope with a type, a message id,
// an optional gateway timestamp and a body that depends on the type. The
// same envelope has a JSON form and a compact binary form; a payload whose
// first non-blank byte is '{' is JSON, one starting with the magic "GW" is
// binary, anything else is rejected.
//
//	type            dir   body
//	1 report        up    items: readings {sensor, metric, value, ts}
//	2 group         up    items: frames {sensor, contract, frame, ts}
//	3 ack           down  none; id is the id of the acknowledged message
//	4 heartbeat     both  none; a gateway answers the platform's with its id
//	5 status        up    items: readings (the gateway's own state)
//	6 command       down  device, name, params; id is the command id
//	7 command_ack   up    none; id is the command id
//	8 command_result up   ok, result, error; id is the command id
//
// The message id is a string of 1 to MaxIDLen bytes without control
// characters (a counter or a UUID; a string keeps both possible). Times are
// Unix milliseconds; 0 means absent. A reading or frame without its own
// time takes the gateway timestamp, and without that the receive time. A
// report reading without a sensor belongs to the gateway itself.
//
// JSON form (unknown keys are ignored so newer gateways can add fields; "v"
// defaults to 1 and any other version is rejected):
//
//	{"v":1,"type":"group","id":"42","ts":1700000000000,"items":[
//	  {"sensor":"s1","contract":"env@v1","frame":"CJgQ2FYBAZA=","ts":1700000000000}]}
//	{"type":"report","id":"43","items":[
//	  {"sensor":"s1","metric":"temperature","value":21.5,"ts":1700000000000},
//	  {"metric":"uptime","value":3600,"type":"int"}]}
//	{"type":"command","id":"c-9","device":"valve1","name":"close","params":{"force":true}}
//	{"type":"command_result","id":"c-9","ok":false,"error":"jammed","result":{"pos":12}}
//
// A reading's value is a JSON number (a float unless "type":"int", which
// requires an integer), a boolean or a string; "type" may also say float,
// bool or string and must then match. A frame is base64 (standard, padded).
// params and result are JSON objects.
//
// Binary form, byte by byte (uvarint and varint as in encoding/binary;
// a string is a uvarint length followed by that many UTF-8 bytes):
//
//	0      2  magic "GW" (0x47 0x57)
//	2      1  version, 1
//	3      1  type, 1..8 as above
//	4      .  id: string
//	.      .  gateway timestamp: uvarint (0 = absent)
//	.      .  body by type:
//	  report, status:  uvarint count, then count readings:
//	                   sensor: string ("" = the gateway)
//	                   metric: string
//	                   ts: uvarint (0 = absent)
//	                   kind: 1 byte, 1 float | 2 int | 3 bool | 4 string
//	                   value: float 8 bytes IEEE 754 big endian | int varint
//	                          (zigzag) | bool 1 byte 0 or 1 | string
//	  group:           uvarint count, then count frames:
//	                   sensor: string, contract: string, ts: uvarint,
//	                   frame: uvarint length + raw bytes
//	  command:         device: string, name: string, params: string holding
//	                   a JSON object ("" = none)
//	  command_result:  ok: 1 byte 0 or 1, result: string holding a JSON
//	                   object ("" = none), error: string
//	  ack, heartbeat, command_ack: nothing
//
// Bytes after the body are an error. The binary form of a 20-sensor group of
// 8-byte frames is about 40% of its JSON form.
//
// # Commands
//
// The platform sends a command envelope on the down topic; the gateway
// answers command_ack at once and command_result when the device is done.
// Without an ack within the command's timeout (default 30 s) the platform
// resends the same envelope, same id, up to retries times (default 3), then
// marks the command failed. Gateways must therefore execute a command id
// once and answer a resend with another ack (and the result if known). A
// result without an ack completes the command; an acknowledged command
// without a result within CommandOptions.ResultTimeout (default 5 min)
// expires. Every state change is written to the kv.Store before it takes
// effect, so Resume continues unfinished commands after a restart. A status
// query is the command "status"; its result object is the state report.
//
// # Presence
//
// The platform sends a heartbeat envelope to every known gateway each
// interval (default 1 min). Anything received from a gateway (its heartbeat
// answer or any other envelope) makes it online and sets its last
// communication time; silence longer than the validity (default 3
// intervals) makes it offline. Each transition is one Event.
//
// # Reports
//
// The platform acknowledges each report, status and group with an ack
// carrying the message id (AckFor) once its readings are durable. A gateway
// resends what was not acknowledged, with the same id and the readings'
// own timestamps, so a resend overwrites the same points rather than adding
// new ones.
//
// # Limits
//
// Untrusted input is bounded before it costs memory: a payload of at most
// MaxEnvelope bytes, at most MaxItems items, frames of at most MaxFrame
// bytes, string values and errors of at most MaxText bytes, params and
// result of at most MaxObject bytes, names valid as point names (contracts
// "name" or "name@vN"). Float values must be finite. A violation is an
// error wrapping ErrInvalid (or ErrTooLarge) that names the item and field.
package gateway
