package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/edgevault/edgevault/point"
)

// Sentinel errors.
var (
	// ErrInvalid means an envelope is malformed; the wrapping error names
	// the field and the reason.
	ErrInvalid = errors.New("invalid envelope")
	// ErrTooLarge means an envelope exceeds one of the limits.
	ErrTooLarge = errors.New("envelope too large")
	// ErrUnknownContract means a group frame names a contract that is not
	// active.
	ErrUnknownContract = errors.New("unknown contract")
	// ErrNotFound means no command has the id.
	ErrNotFound = errors.New("command not found")
	// ErrWrongGateway means an ack or result came from a gateway other than
	// the one the command was sent to.
	ErrWrongGateway = errors.New("command belongs to another gateway")
)

// Limits on untrusted envelopes.
const (
	MaxEnvelope = 256 << 10 // bytes of one payload (the broker's default packet limit)
	MaxItems    = 1000      // readings or frames in one envelope
	MaxFrame    = 4096      // bytes of one raw frame
	MaxIDLen    = 128       // bytes of a message or command id
	MaxText     = 1024      // bytes of a string value or an error text
	MaxObject   = 16 << 10  // bytes of params or result, as JSON
)

// Version is the envelope version this package reads and writes.
const Version = 1

// Type is the message type of an envelope.
type Type uint8

// Message types; the numbers are the binary form's type byte.
const (
	TypeReport        Type = 1
	TypeGroup         Type = 2
	TypeAck           Type = 3
	TypeHeartbeat     Type = 4
	TypeStatus        Type = 5
	TypeCommand       Type = 6
	TypeCommandAck    Type = 7
	TypeCommandResult Type = 8
)

var typeNames = [...]string{"", "report", "group", "ack", "heartbeat", "status", "command", "command_ack", "command_result"}

func (t Type) String() string {
	if t.valid() {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

func (t Type) valid() bool { return t >= TypeReport && t <= TypeCommandResult }

func parseType(s string) (Type, bool) {
	for i := 1; i < len(typeNames); i++ {
		if typeNames[i] == s {
			return Type(i), true
		}
	}
	return 0, false
}

// Envelope is one gateway protocol message. Which fields are used depends
// on Type (see the package documentation).
type Envelope struct {
	Type Type
	ID   string // message id; the command id for command types
	Time int64  // gateway timestamp, Unix ms; 0 = absent

	Readings []Reading // report, status
	Frames   []Frame   // group

	Device string         // command: the device behind the gateway
	Name   string         // command
	Params map[string]any // command; nil when empty
	OK     bool           // command_result
	Result map[string]any // command_result; nil when empty
	Error  string         // command_result

	// Binary is set by DecodeEnvelope to the form the envelope came in, so
	// replies (AckFor) use the same form. Encode ignores it.
	Binary bool
}

// Reading is one value in a report or status envelope.
type Reading struct {
	Sensor string // "" = the gateway itself
	Metric string
	Time   int64 // Unix ms; 0 = absent
	Value  point.Value
}

// Frame is one sensor's raw frame in a group envelope.
type Frame struct {
	Sensor   string
	Contract string // "name@vN" or "name" (the highest version)
	Time     int64  // Unix ms; 0 = absent
	Data     []byte
}

// DecodeEnvelope decodes a JSON or binary envelope and checks it against
// the limits. Errors wrap ErrInvalid or ErrTooLarge.
func DecodeEnvelope(payload []byte) (Envelope, error) {
	if len(payload) > MaxEnvelope {
		return Envelope{}, fmt.Errorf("%d bytes: %w (limit %d)", len(payload), ErrTooLarge, MaxEnvelope)
	}
	var (
		env Envelope
		err error
	)
	switch {
	case bytes.HasPrefix(payload, binaryMagic):
		env, err = decodeBinary(payload)
		env.Binary = true
	case firstNonBlank(payload) == '{':
		env, err = decodeJSON(payload)
	default:
		return Envelope{}, fmt.Errorf("neither JSON nor binary (no %q magic): %w", binaryMagic, ErrInvalid)
	}
	if err != nil {
		return Envelope{}, err
	}
	if err := env.validate(); err != nil {
		return Envelope{}, err
	}
	return env, nil
}

// Encode writes env in the binary form when binary is true, else as JSON.
// It does not validate: encoding an envelope that DecodeEnvelope would
// reject (a NaN value, an empty id) yields a payload it rejects.
func Encode(env Envelope, binary bool) []byte {
	if binary {
		return encodeBinary(env)
	}
	return encodeJSON(env)
}

// AckFor builds the acknowledgement the platform sends on the gateway's
// down topic once the readings of env are durable: an ack with env's id, in
// the form env came in.
func AckFor(env Envelope) []byte {
	if env.Binary || !plainJSON(env.ID) {
		return Encode(Envelope{Type: TypeAck, ID: env.ID}, env.Binary)
	}
	// What Encode writes, without encoding/json: one ack per report.
	const head, tail = `{"v":1,"type":"ack","id":"`, `"}`
	b := make([]byte, 0, len(head)+len(env.ID)+len(tail))
	return append(append(append(b, head...), env.ID...), tail...)
}

// plainJSON reports whether s is printable ASCII that JSON writes as is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func firstNonBlank(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrInvalid)...)
}

func (e *Envelope) validate() error {
	if !e.Type.valid() {
		return invalid("type %d", e.Type)
	}
	if err := checkID(e.ID); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	if e.Time < 0 {
		return invalid("ts %d is negative", e.Time)
	}
	if n := len(e.Readings) + len(e.Frames); n > MaxItems {
		return fmt.Errorf("%d items: %w (limit %d)", n, ErrTooLarge, MaxItems)
	}
	for i := range e.Readings {
		if err := e.Readings[i].validate(); err != nil {
			return fmt.Errorf("items[%d]: %w", i, err)
		}
	}
	for i := range e.Frames {
		if err := e.Frames[i].validate(); err != nil {
			return fmt.Errorf("items[%d]: %w", i, err)
		}
	}
	return e.validateCommand()
}

func (e *Envelope) validateCommand() error {
	switch e.Type {
	case TypeCommand:
		if e.Device != "" {
			if err := point.ValidName(e.Device); err != nil {
				return invalid("device: %v", err)
			}
		}
		if err := point.ValidName(e.Name); err != nil {
			return invalid("name: %v", err)
		}
	case TypeCommandResult:
		if len(e.Error) > MaxText {
			return fmt.Errorf("error: %d bytes: %w (limit %d)", len(e.Error), ErrTooLarge, MaxText)
		}
		if !utf8.ValidString(e.Error) {
			return invalid("error is not valid UTF-8")
		}
	}
	return nil
}

// checkID accepts 1..MaxIDLen bytes of UTF-8 without control characters.
func checkID(id string) error {
	if id == "" {
		return invalid("empty")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%d bytes: %w (limit %d)", len(id), ErrTooLarge, MaxIDLen)
	}
	if err := point.ValidName(id); err != nil {
		return invalid("%v", err)
	}
	return nil
}

func (r *Reading) validate() error {
	if r.Sensor != "" {
		if err := point.ValidName(r.Sensor); err != nil {
			return invalid("sensor: %v", err)
		}
	}
	if err := point.ValidName(r.Metric); err != nil {
		return invalid("metric: %v", err)
	}
	if r.Time < 0 {
		return invalid("ts %d is negative", r.Time)
	}
	switch v := r.Value; v.Kind() {
	case point.KindFloat:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return invalid("value %v is not finite", f)
		}
	case point.KindString:
		if len(v.Str()) > MaxText {
			return fmt.Errorf("value: %d bytes: %w (limit %d)", len(v.Str()), ErrTooLarge, MaxText)
		}
		if !utf8.ValidString(v.Str()) {
			return invalid("value is not valid UTF-8")
		}
	case point.KindInt, point.KindBool:
	default:
		return invalid("value: missing or of unknown kind")
	}
	return nil
}

func (f *Frame) validate() error {
	if err := point.ValidName(f.Sensor); err != nil {
		return invalid("sensor: %v", err)
	}
	if err := point.ValidName(f.Contract); err != nil {
		return invalid("contract: %v", err)
	}
	if f.Time < 0 {
		return invalid("ts %d is negative", f.Time)
	}
	if len(f.Data) == 0 {
		return invalid("frame is empty")
	}
	if len(f.Data) > MaxFrame {
		return fmt.Errorf("frame: %d bytes: %w (limit %d)", len(f.Data), ErrTooLarge, MaxFrame)
	}
	return nil
}
