package codec

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/edgevault/edgevault/point"
)

// LineOptions names devices and metrics in InfluxDB line protocol. The zero
// value means the defaults of DefaultLineOptions.
type LineOptions struct {
	// DeviceTag is the tag naming the device (default "device"); it is
	// removed from the series tags.
	DeviceTag string `yaml:"device_tag,omitempty" json:"device_tag,omitempty"`
	// DefaultDevice names the device of lines without DeviceTag; when empty
	// such lines are rejected. A line contract's {device} topic level takes
	// precedence over it.
	DefaultDevice string `yaml:"default_device,omitempty" json:"default_device,omitempty"`
	// MetricFormat is "field" (default: metric = field key),
	// "measurement_field" or "measurement.field".
	MetricFormat string `yaml:"metric_format,omitempty" json:"metric_format,omitempty"`
	// Precision of line contracts' timestamps (MQTT has no query string):
	// ns (default), us, ms, s, m or h.
	Precision string `yaml:"precision,omitempty" json:"precision,omitempty"`
}

// DefaultLineOptions is what the edge uses unless configured otherwise.
func DefaultLineOptions() LineOptions {
	return LineOptions{DeviceTag: "device", MetricFormat: "field"}
}

// LineError is one rejected line. Line is 1-based; 0 or less means the
// error is not tied to one line.
type LineError struct {
	Line int
	Err  error
}

func (e LineError) Error() string {
	if e.Line <= 0 {
		return e.Err.Error()
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Err.Error()
}

func (e LineError) Unwrap() error { return e.Err }

// maxLineErrors bounds the bad lines reported for one body; the rest are
// counted in one last LineError.
const maxLineErrors = 1000

var errLineTimestamp = errors.New("bad timestamp")

func normLineOptions(o LineOptions) (LineOptions, error) {
	d := DefaultLineOptions()
	if o.DeviceTag == "" {
		o.DeviceTag = d.DeviceTag
	}
	switch o.MetricFormat {
	case "":
		o.MetricFormat = d.MetricFormat
	case "field", "measurement_field", "measurement.field":
	default:
		return o, fmt.Errorf("metric_format: unknown %q (want field, measurement_field or measurement.field)", o.MetricFormat)
	}
	if o.DefaultDevice != "" {
		if err := point.ValidName(o.DefaultDevice); err != nil {
			return o, fmt.Errorf("default_device: %w", err)
		}
	}
	if _, _, err := precisionScale(o.Precision); err != nil {
		return o, fmt.Errorf("precision: %w", err)
	}
	return o, nil
}

// precisionScale returns mul and div that turn a timestamp in precision
// into Unix ms: ms = ts*mul/div.
func precisionScale(p string) (mul, div int64, err error) {
	switch p {
	case "", "ns", "n":
		return 1, 1e6, nil
	case "us", "u", "µs":
		return 1, 1e3, nil
	case "ms":
		return 1, 1, nil
	case "s":
		return 1e3, 1, nil
	case "m":
		return 60e3, 1, nil
	case "h":
		return 3600e3, 1, nil
	}
	return 0, 0, fmt.Errorf("unknown precision %q (want ns, us, ms, s, m or h)", p)
}

// ParseLineProtocol parses a whole InfluxDB line-protocol body. Good lines
// become readings (one per field); each bad line is reported with its
// number and rejects only itself. err is set only for a bad precision or
// bad options. now (Unix ms) stamps lines without a timestamp.
func ParseLineProtocol(body []byte, precision string, opts LineOptions, now int64) (readings []point.Reading, bad []LineError, err error) {
	p, err := newLineParser(opts, precision, now)
	if err != nil {
		return nil, nil, err
	}
	p.parse(body)
	return p.out, p.bad, nil
}

type metricKey struct{ measurement, field string }

type seriesEntry struct {
	measurement string // raw, for metric names
	device      string
	tags        []point.Tag // shared by every reading of the series
	err         error
	// fields caches the metric of the k-th field key seen on the series'
	// first lines: lines of one series usually repeat their field keys in
	// order, so one string compare replaces a map lookup.
	fields []fieldMetric
}

type fieldMetric struct {
	raw string
	me  metricEntry
}

// maxCachedFields bounds seriesEntry.fields.
const maxCachedFields = 64

type metricEntry struct {
	name string
	err  error
}

// lineParser parses one body. Names are interned per body: the body is
// copied once into a string, lookups use substrings of it without
// allocating, and only first sightings are cloned.
type lineParser struct {
	opts     LineOptions
	mul, div int64
	now      int64
	series   map[string]*seriesEntry
	metrics  map[metricKey]metricEntry
	out      []point.Reading
	bad      []LineError
	nbad     int
}

func newLineParser(opts LineOptions, precision string, now int64) (*lineParser, error) {
	opts, err := normLineOptions(opts)
	if err != nil {
		return nil, err
	}
	mul, div, err := precisionScale(precision)
	if err != nil {
		return nil, err
	}
	return &lineParser{opts: opts, mul: mul, div: div, now: now,
		series: map[string]*seriesEntry{}, metrics: map[metricKey]metricEntry{}}, nil
}

func (p *lineParser) parse(body []byte) {
	if p.out == nil {
		p.out = make([]point.Reading, 0, estimateReadings(body))
	}
	s := string(body)
	for n := 1; len(s) > 0; n++ {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		if err := p.line(line); err != nil {
			p.fail(n, err)
		}
	}
	if p.nbad > len(p.bad) {
		p.bad = append(p.bad, LineError{Err: fmt.Errorf("and %d more bad lines", p.nbad-len(p.bad))})
	}
}

// estimateReadings guesses the readings of a body from its line count
// and the field count of its first line, capped so that a hostile body
// cannot make it reserve much.
func estimateReadings(body []byte) int {
	lines := bytes.Count(body, []byte{'\n'}) + 1
	first, _, _ := bytes.Cut(body, []byte{'\n'})
	fields := 1
	if i := scanKey(string(first)); i < len(first) {
		fields += bytes.Count(first[i:], []byte{','})
	}
	return min(lines*fields, 1<<16)
}

func (p *lineParser) fail(n int, err error) {
	p.nbad++
	if len(p.bad) < maxLineErrors {
		p.bad = append(p.bad, LineError{Line: n, Err: err})
	}
}

// line parses one line; on error none of its fields is kept.
func (p *lineParser) line(l string) error {
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	for len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
		l = l[1:]
	}
	if l == "" || l[0] == '#' {
		return nil
	}
	end := scanKey(l)
	if end == len(l) {
		return fmt.Errorf("no fields after %q", clip(l))
	}
	se := p.seriesOf(l[:end])
	if se.err != nil {
		return se.err
	}
	start := len(p.out)
	rest, err := p.fields(l[end+1:], se)
	if err == nil {
		err = p.timestamp(rest, start)
	}
	if err != nil {
		p.out = p.out[:start]
	}
	return err
}

// scanKey returns the index of the first unescaped space, or len(l).
func scanKey(l string) int {
	for i := 0; i < len(l); i++ {
		switch l[i] {
		case '\\':
			i++
		case ' ':
			return i
		}
	}
	return len(l)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// lineDecoder decodes an MQTT payload of line protocol. A {device} topic
// level names the device of lines without the device tag. One bad line
// rejects the whole message, which then goes to the dead-letter store.
type lineDecoder struct {
	opts LineOptions
}

func compileLine(o *LineOptions) (*lineDecoder, error) {
	var opts LineOptions
	if o != nil {
		opts = *o
	}
	opts, err := normLineOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("line.%w", err)
	}
	return &lineDecoder{opts: opts}, nil
}

func (d *lineDecoder) decode(m Message, device string, _ []point.Tag) (Decoded, error) {
	opts := d.opts
	if device != "" {
		if err := checkDevice(device); err != nil {
			return Decoded{}, err
		}
		opts.DefaultDevice = device
	}
	p, err := newLineParser(opts, opts.Precision, m.Received)
	if err != nil {
		return Decoded{}, err
	}
	p.parse(m.Payload)
	if len(p.out) > MaxReadings {
		return Decoded{}, fmt.Errorf("payload: %w: more than %d readings", ErrTooLarge, MaxReadings)
	}
	if len(p.bad) > 0 {
		return Decoded{}, fmt.Errorf("payload: %d bad lines, first %w", p.nbad, p.bad[0])
	}
	return Decoded{Readings: p.out}, nil
}
