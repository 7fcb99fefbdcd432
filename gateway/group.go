package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/edgevault/edgevault/codec"
	"github.com/edgevault/edgevault/point"
)

// FrameDecoder decodes one sensor's raw frame with a named contract. ts is
// the time to give readings when the frame carries none (Unix ms).
type FrameDecoder interface {
	DecodeFrame(contract, device string, frame []byte, ts int64) ([]point.Reading, error)
}

// frameTopic is the topic every contract is re-addressed to in
// ContractFrames: codec decodes by topic match, and a frame has no topic of
// its own, so each contract gets a private one-contract Set whose topic
// captures the device.
const frameTopic = "gwframe/{device}"

// ContractFrames is a FrameDecoder over codec contracts: the contract's
// format and spec (binary layout, JSON mappings, ...) decode the frame, the
// contract's own topic is not used (so topic captures other than {device}
// give no tags). A contract with a device_field takes the device from the
// frame instead. Safe for concurrent use; its contracts are fixed once built.
type ContractFrames struct {
	byID     map[string]*codec.Set // "name@vN"
	byName   map[string]*codec.Set // "name": the highest version
	versions map[string]int

	// topics caches "gwframe/<sensor>" per sensor: the same sensors report
	// every few seconds, and the readings' device is a slice of it. At most
	// maxFrameTopics entries; past that, topics are built per frame.
	topics  sync.Map // sensor -> topic
	ntopics atomic.Int64
}

const maxFrameTopics = 1 << 17

// NewContractFrames compiles the contracts that can decode frames: binary,
// json, line, zigbee2mqtt and tasmota ones; status and ignore contracts are
// skipped. The error names every contract that does not compile.
func NewContractFrames(contracts []codec.Contract) (*ContractFrames, error) {
	cf := &ContractFrames{byID: map[string]*codec.Set{}, byName: map[string]*codec.Set{}, versions: map[string]int{}}
	var errs []error
	for _, c := range contracts {
		if c.Format == codec.FormatStatus || c.Format == codec.FormatIgnore {
			continue
		}
		c.Topic = frameTopic
		set, err := codec.NewSet([]codec.Contract{c})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cf.byID[c.ID()] = set
		if v, ok := cf.versions[c.Name]; !ok || c.Version > v {
			cf.versions[c.Name] = c.Version
			cf.byName[c.Name] = set
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("frame contracts: %w", errors.Join(errs...))
	}
	return cf, nil
}

// DecodeFrame implements FrameDecoder. contract is "name@vN" or "name".
func (cf *ContractFrames) DecodeFrame(contract, device string, frame []byte, ts int64) ([]point.Reading, error) {
	set := cf.lookup(contract)
	if set == nil {
		return nil, fmt.Errorf("contract %q: %w", contract, ErrUnknownContract)
	}
	if !ValidGatewayID(device) {
		return nil, fmt.Errorf("sensor %q: not usable as a topic level: %w", device, ErrInvalid)
	}
	d, err := set.Decode(codec.Message{Topic: cf.topic(device), Payload: frame, Received: ts})
	if err != nil {
		return nil, err
	}
	return d.Readings, nil
}

func (cf *ContractFrames) topic(device string) string {
	if t, ok := cf.topics.Load(device); ok {
		return t.(string)
	}
	t := "gwframe/" + device
	if cf.ntopics.Load() < maxFrameTopics {
		if _, loaded := cf.topics.LoadOrStore(device, t); !loaded {
			cf.ntopics.Add(1)
		}
	}
	return t
}

func (cf *ContractFrames) lookup(contract string) *codec.Set {
	if set, ok := cf.byID[contract]; ok {
		return set
	}
	if name, v, ok := strings.Cut(contract, "@v"); ok {
		if _, err := strconv.Atoi(v); err == nil && name != "" {
			return nil // an explicit version that is not active
		}
	}
	return cf.byName[contract]
}

// Decoder decodes group envelopes with a FrameDecoder.
type Decoder struct {
	Frames FrameDecoder
}

// FrameError is the reason one frame of a group was not decoded; the node
// keeps the frame in the dead-letter store with it.
type FrameError struct {
	Index int // position in Envelope.Frames
	Frame Frame
	Err   error
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("items[%d] sensor %s contract %s: %v", e.Index, e.Frame.Sensor, e.Frame.Contract, e.Err)
}

func (e *FrameError) Unwrap() error { return e.Err }

// DecodeGroup decodes every frame of env, a group, with its contract. A
// frame without its own time takes env.Time, and without that received
// (Unix ms). Frames that fail are returned as FrameErrors; the readings of
// the others are returned in frame order.
func (d Decoder) DecodeGroup(env Envelope, received int64) ([]point.Reading, []FrameError) {
	var (
		out  []point.Reading
		errs []FrameError
	)
	for i, f := range env.Frames {
		ts := f.Time
		if ts == 0 {
			ts = env.Time
		}
		if ts == 0 {
			ts = received
		}
		rs, err := d.Frames.DecodeFrame(f.Contract, f.Sensor, f.Data, ts)
		if err != nil {
			errs = append(errs, FrameError{Index: i, Frame: f, Err: err})
			continue
		}
		if out == nil {
			// Frames of a group mostly share a contract: size for all of
			// them like the first, so the readings are copied once.
			out = make([]point.Reading, 0, len(rs)*(len(env.Frames)-i))
		}
		out = append(out, rs...)
	}
	return out, errs
}

// Readings turns a report (or status) envelope of gateway gw into point
// readings: a reading without a sensor belongs to gw, one without a time
// takes env.Time, and without that received (Unix ms).
func Readings(gw string, env Envelope, received int64) []point.Reading {
	out := make([]point.Reading, len(env.Readings))
	for i, r := range env.Readings {
		dev, ts := r.Sensor, r.Time
		if dev == "" {
			dev = gw
		}
		if ts == 0 {
			ts = env.Time
		}
		if ts == 0 {
			ts = received
		}
		out[i] = point.Reading{Device: dev, Metric: r.Metric, Time: ts, Value: r.Value}
	}
	return out
}
