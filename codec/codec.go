package codec

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/edgevault/edgevault/point"
)

// Sentinel errors. Decode errors wrap them where a caller may want to count
// a class of failure.
var (
	// ErrNoContract means no active contract's topic matches the message.
	ErrNoContract = errors.New("no contract matches the topic")
	// ErrTooLarge means a payload exceeds MaxPayload or yields more than
	// MaxReadings readings.
	ErrTooLarge = errors.New("payload too large")
	// ErrTooDeep means a JSON payload nests deeper than MaxDepth.
	ErrTooDeep = errors.New("payload nested too deep")
	// ErrLength means a binary payload has the wrong length.
	ErrLength = errors.New("wrong payload length")
)

// Limits on untrusted payloads.
const (
	MaxPayload  = 1 << 20 // bytes of one MQTT payload
	MaxReadings = 10000   // readings from one MQTT payload
	MaxDepth    = 16      // JSON nesting
)

// Formats a contract can declare.
const (
	FormatJSON        = "json"
	FormatLine        = "line"
	FormatBinary      = "binary"
	FormatStatus      = "status"
	FormatIgnore      = "ignore"
	FormatZigbee2MQTT = "zigbee2mqtt" // json with the zigbee2mqtt defaults
	FormatTasmota     = "tasmota"     // json with the Tasmota defaults
)

// Message is one MQTT publish to decode.
type Message struct {
	Topic    string
	Payload  []byte
	Received int64 // Unix ms; the reading time when the payload carries none
}

// Status is device presence learned from a payload (last will, availability).
type Status struct {
	Device string
	Online bool
}

// Decoded is what one message yields. Contract is "name@vN" of the contract
// that decoded it.
type Decoded struct {
	Readings []point.Reading
	Status   []Status
	Contract string
}

// Contract is one declarative parsing contract, as written in the YAML
// config and as posted over REST as JSON. See the package documentation for
// the schema.
type Contract struct {
	Name        string `yaml:"name" json:"name"`
	Version     int    `yaml:"version" json:"version"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Topic is an MQTT filter whose levels may be {name} captures.
	Topic string `yaml:"topic" json:"topic"`
	// Format is json, line, binary, status, ignore, zigbee2mqtt or tasmota.
	Format string `yaml:"format" json:"format"`
	// DeviceField is a JSON path naming the device in the payload; when
	// empty the {device} topic level names it.
	DeviceField string `yaml:"device_field,omitempty" json:"device_field,omitempty"`

	JSON   *JSONSpec    `yaml:"json,omitempty" json:"json,omitempty"`
	Binary *BinarySpec  `yaml:"binary,omitempty" json:"binary,omitempty"`
	Line   *LineOptions `yaml:"line,omitempty" json:"line,omitempty"`
}

// ID is "name@vN", the contract's identity in Decoded and in errors.
func (c *Contract) ID() string { return c.Name + "@v" + strconv.Itoa(c.Version) }

// decoder decodes the payload of a message that matched a contract.
type decoder interface {
	decode(m Message, device string, tags []point.Tag) (Decoded, error)
}

type compiled struct {
	c   Contract
	id  string
	pat pattern
	dec decoder
}

// Set is an immutable, ordered set of compiled contracts. It is safe for
// concurrent use.
type Set struct {
	list []compiled
}

// NewSet compiles contracts in order; the first whose topic matches a
// message decodes it. The error names the contract, the field and the
// reason, for every bad contract.
func NewSet(contracts []Contract) (*Set, error) {
	s := &Set{list: make([]compiled, 0, len(contracts))}
	var errs []error
	seen := map[string]bool{}
	for i, c := range contracts {
		cc, err := compile(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("contracts[%d]: %w", i, err))
			continue
		}
		if seen[cc.id] {
			errs = append(errs, fmt.Errorf("contracts[%d]: contract %s: duplicate name and version", i, cc.id))
			continue
		}
		seen[cc.id] = true
		s.list = append(s.list, cc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// Validate compiles one contract without activating it.
func Validate(c Contract) error {
	_, err := compile(c)
	return err
}

// Contracts returns the active contracts in match order.
func (s *Set) Contracts() []Contract {
	out := make([]Contract, len(s.list))
	for i := range s.list {
		out[i] = s.list[i].c
	}
	return out
}

// Decode decodes m with the first contract whose topic matches. It returns
// ErrNoContract when none does; other errors are sentences naming the
// contract, the field and the reason, fit for a dead-letter record.
func (s *Set) Decode(m Message) (Decoded, error) {
	for i := range s.list {
		cc := &s.list[i]
		device, tags, ok := cc.pat.match(m.Topic)
		if !ok {
			continue
		}
		if len(m.Payload) > MaxPayload {
			return Decoded{Contract: cc.id}, fmt.Errorf("contract %s: %d bytes: %w (limit %d)",
				cc.id, len(m.Payload), ErrTooLarge, MaxPayload)
		}
		if err := checkTags(tags); err != nil {
			return Decoded{Contract: cc.id}, fmt.Errorf("contract %s: topic %q: %w", cc.id, m.Topic, err)
		}
		d, err := cc.dec.decode(m, device, tags)
		d.Contract = cc.id
		if err != nil {
			return d, fmt.Errorf("contract %s: %w", cc.id, err)
		}
		return d, nil
	}
	return Decoded{}, fmt.Errorf("topic %q: %w", m.Topic, ErrNoContract)
}

func compile(c Contract) (compiled, error) {
	id := c.ID()
	if err := point.ValidName(c.Name); err != nil {
		return compiled{}, fmt.Errorf("contract %q: name: %w", c.Name, err)
	}
	if c.Version < 0 {
		return compiled{}, fmt.Errorf("contract %s: version: must not be negative", id)
	}
	pat, err := compilePattern(c.Topic)
	if err != nil {
		return compiled{}, fmt.Errorf("contract %s: topic: %w", id, err)
	}
	dec, err := compileDecoder(&c, pat)
	if err != nil {
		return compiled{}, fmt.Errorf("contract %s: %w", id, err)
	}
	return compiled{c: c, id: id, pat: pat, dec: dec}, nil
}

func isJSONFormat(f string) bool {
	return f == FormatJSON || f == FormatZigbee2MQTT || f == FormatTasmota
}

// checkSections rejects format-specific keys under another format.
func checkSections(c *Contract) error {
	if c.JSON != nil && !isJSONFormat(c.Format) {
		return fmt.Errorf("json: only for json formats, not %q", c.Format)
	}
	if c.Format != FormatBinary && c.Binary != nil {
		return fmt.Errorf("binary: only for format binary, not %q", c.Format)
	}
	if c.Format != FormatLine && c.Line != nil {
		return fmt.Errorf("line: only for format line, not %q", c.Format)
	}
	if c.DeviceField != "" && !isJSONFormat(c.Format) {
		return fmt.Errorf("device_field: only for json formats, not %q", c.Format)
	}
	return nil
}

func compileDecoder(c *Contract, pat pattern) (decoder, error) {
	if err := checkSections(c); err != nil {
		return nil, err
	}
	needDevice := func() error {
		if c.DeviceField == "" && !pat.captures("device") {
			return fmt.Errorf("topic: no {device} level and no device_field")
		}
		return nil
	}
	switch c.Format {
	case FormatJSON, FormatZigbee2MQTT, FormatTasmota:
		if err := needDevice(); err != nil {
			return nil, err
		}
		return compileJSON(c)
	case FormatBinary:
		if err := needDevice(); err != nil {
			return nil, err
		}
		return compileBinary(c.Binary)
	case FormatLine:
		return compileLine(c.Line)
	case FormatStatus:
		if !pat.captures("device") {
			return nil, fmt.Errorf("topic: format status needs a {device} level")
		}
		return statusDecoder{}, nil
	case FormatIgnore:
		return ignoreDecoder{}, nil
	case "":
		return nil, fmt.Errorf("format: missing (want json, line, binary, status, ignore, zigbee2mqtt or tasmota)")
	}
	return nil, fmt.Errorf("format: unknown %q (want json, line, binary, status, ignore, zigbee2mqtt or tasmota)", c.Format)
}

// ignoreDecoder swallows messages a preset knows carry no telemetry
// (zigbee2mqtt bridge topics, /set and /get commands).
type ignoreDecoder struct{}

func (ignoreDecoder) decode(Message, string, []point.Tag) (Decoded, error) { return Decoded{}, nil }

// checkDevice validates a device id from the topic or the payload.
func checkDevice(device string) error {
	if err := point.ValidName(device); err != nil {
		return fmt.Errorf("device: %w", err)
	}
	return nil
}

// checkTags validates tags captured from topic levels.
func checkTags(tags []point.Tag) error {
	for _, t := range tags {
		if err := point.ValidName(t.Value); err != nil {
			return fmt.Errorf("level {%s}: %w", t.Key, err)
		}
	}
	return nil
}
