package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/edgevault/edgevault/point"
)

// JSONSpec configures a json contract. Every field is optional.
type JSONSpec struct {
	// Fields map payload paths (dot separated, e.g. sensors.env.temp) to
	// metrics. Unmapped fields still become readings unless MappedOnly.
	Fields     []FieldMap `yaml:"fields,omitempty" json:"fields,omitempty"`
	MappedOnly bool       `yaml:"mapped_only,omitempty" json:"mapped_only,omitempty"`
	// Ignore lists paths to skip (a path skips its whole subtree), on top
	// of the top-level timestamp, time, ts, device and device_id keys (any
	// case), which are always skipped unless mapped.
	Ignore []string `yaml:"ignore,omitempty" json:"ignore,omitempty"`
	// Timestamp is the path of the reading time; "" looks for a top-level
	// timestamp, time or ts key (any case); "-" always uses the receive time.
	Timestamp string `yaml:"timestamp,omitempty" json:"timestamp,omitempty"`
	// TimeUnit is auto (default), s, ms, us, ns or rfc3339.
	TimeUnit string `yaml:"time_unit,omitempty" json:"time_unit,omitempty"`
	// Separator joins the keys of nested objects without a mapping: "_"
	// (default) or ".".
	Separator string `yaml:"separator,omitempty" json:"separator,omitempty"`
	// OnOffBool turns the strings "ON" and "OFF" (any case) into booleans.
	OnOffBool bool `yaml:"on_off_bool,omitempty" json:"on_off_bool,omitempty"`
	// Metric names the reading of a scalar payload (e.g. "21.5"); the
	// {metric} topic level names it when empty.
	Metric string `yaml:"metric,omitempty" json:"metric,omitempty"`
}

// FieldMap maps one payload path to a metric.
type FieldMap struct {
	Path   string `yaml:"path" json:"path"`
	Metric string `yaml:"metric" json:"metric"`
	// Type is float (default for numbers), int, bool or string.
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Unit documents the metric; it is not stored with readings.
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty"`
	// Scale and Offset give value = raw*Scale + Offset for float fields; a
	// zero Scale means 1.
	Scale  float64 `yaml:"scale,omitempty" json:"scale,omitempty"`
	Offset float64 `yaml:"offset,omitempty" json:"offset,omitempty"`
}

var defaultIgnore = []string{"timestamp", "time", "ts", "device", "device_id"}

type jsonDecoder struct {
	spec     JSONSpec
	sep      string
	mapped   map[string]*FieldMap
	paths    [][]string // split Fields[i].Path
	ignore   map[string]bool
	devPath  []string
	autoTime bool
	tsPath   []string
	names    internCache // flattened metric names of the fast path
	values   internCache // short strings of the fast path
}

func compileJSON(c *Contract) (*jsonDecoder, error) {
	spec := presetJSON(c.Format)
	if c.JSON != nil {
		spec = *c.JSON
	}
	d := &jsonDecoder{spec: spec, sep: spec.Separator, mapped: map[string]*FieldMap{}, ignore: map[string]bool{}}
	if err := d.checkOptions(); err != nil {
		return nil, fmt.Errorf("json.%w", err)
	}
	for i := range d.spec.Fields {
		f := &d.spec.Fields[i]
		if err := checkFieldMap(f); err != nil {
			return nil, fmt.Errorf("json.fields[%d]: %w", i, err)
		}
		if d.mapped[f.Path] != nil {
			return nil, fmt.Errorf("json.fields[%d]: path %q mapped twice", i, f.Path)
		}
		d.mapped[f.Path] = f
		d.paths = append(d.paths, strings.Split(f.Path, "."))
	}
	for _, p := range spec.Ignore {
		d.ignore[p] = true
	}
	switch spec.Timestamp {
	case "":
		d.autoTime = true
	case "-":
	default:
		d.tsPath = strings.Split(spec.Timestamp, ".")
		d.ignore[spec.Timestamp] = true
	}
	if c.DeviceField != "" {
		d.devPath = strings.Split(c.DeviceField, ".")
		d.ignore[c.DeviceField] = true
	}
	return d, nil
}

func (d *jsonDecoder) checkOptions() error {
	switch d.sep {
	case "":
		d.sep = "_"
	case "_", ".":
	default:
		return fmt.Errorf("separator: want \"_\" or \".\", got %q", d.sep)
	}
	if !validTimeUnit(d.spec.TimeUnit) {
		return fmt.Errorf("time_unit: unknown %q (want auto, s, ms, us, ns or rfc3339)", d.spec.TimeUnit)
	}
	if d.spec.Metric != "" {
		if err := point.ValidName(d.spec.Metric); err != nil {
			return fmt.Errorf("metric: %w", err)
		}
	}
	return nil
}

func checkFieldMap(f *FieldMap) error {
	if f.Path == "" || strings.Contains(f.Path, "..") || strings.HasPrefix(f.Path, ".") || strings.HasSuffix(f.Path, ".") {
		return fmt.Errorf("path: bad path %q", f.Path)
	}
	if f.Metric == "" {
		return fmt.Errorf("metric: missing for path %q", f.Path)
	}
	if err := point.ValidName(f.Metric); err != nil {
		return fmt.Errorf("metric: %w", err)
	}
	switch f.Type {
	case "", "float":
	case "int", "bool", "string":
		if f.Scale != 0 || f.Offset != 0 {
			return fmt.Errorf("scale: scale and offset apply to float fields, not %s", f.Type)
		}
	default:
		return fmt.Errorf("type: unknown %q (want float, int, bool or string)", f.Type)
	}
	return nil
}

// record is the state of decoding one JSON object into readings.
type record struct {
	device string
	tags   []point.Tag
	time   int64
	out    *[]point.Reading
}

func (d *jsonDecoder) decode(m Message, device string, tags []point.Tag) (Decoded, error) {
	if out, ok := d.decodeFast(m, device, tags); ok {
		return out, nil
	}
	return d.decodeSlow(m, device, tags)
}

// decodeSlow decodes any payload with encoding/json; it defines the
// results and the errors of the json formats.
func (d *jsonDecoder) decodeSlow(m Message, device string, tags []point.Tag) (Decoded, error) {
	v, err := parseJSON(m.Payload)
	if err != nil {
		return Decoded{}, err
	}
	var out []point.Reading
	switch x := v.(type) {
	case map[string]any:
		err = d.object(x, record{device: device, tags: tags, time: m.Received, out: &out})
	case []any:
		err = d.array(x, record{device: device, tags: tags, time: m.Received, out: &out})
	default:
		err = d.scalar(x, record{device: device, tags: tags, time: m.Received, out: &out})
	}
	if err != nil {
		return Decoded{}, err
	}
	return Decoded{Readings: out}, nil
}

// parseJSON decodes untrusted bytes with numbers kept exact and nesting
// bounded before any walk.
func parseJSON(b []byte) (any, error) {
	if err := checkDepth(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("payload: invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("payload: invalid JSON: data after the first value")
	}
	return v, nil
}

// checkDepth rejects nesting deeper than MaxDepth without allocating.
func checkDepth(b []byte) error {
	depth, inStr := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			if depth++; depth > MaxDepth {
				return fmt.Errorf("payload: offset %d: %w (limit %d levels)", i, ErrTooDeep, MaxDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

func (d *jsonDecoder) scalar(v any, r record) error {
	metric := d.spec.Metric
	if metric == "" {
		i := slices.IndexFunc(r.tags, func(t point.Tag) bool { return t.Key == "metric" })
		if i < 0 {
			return fmt.Errorf("payload: a bare %s needs json.metric or a {metric} topic level", jsonKind(v))
		}
		metric = r.tags[i].Value
		r.tags = slices.Delete(slices.Clone(r.tags), i, i+1)
	}
	if err := checkDevice(r.device); err != nil {
		return err
	}
	return d.emit(r, metric, metric, v, nil)
}

func (d *jsonDecoder) array(a []any, r record) error {
	for i, e := range a {
		obj, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("payload: element %d: want an object, got %s", i, jsonKind(e))
		}
		var err error
		if _, hasM := obj["metric"]; hasM {
			err = d.pointForm(obj, r)
		} else {
			err = d.object(obj, r)
		}
		if err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	return nil
}

// pointForm decodes {"metric":"t","value":1,"ts":...}.
func (d *jsonDecoder) pointForm(obj map[string]any, r record) error {
	if err := d.prepare(obj, &r); err != nil {
		return err
	}
	name, ok := obj["metric"].(string)
	if !ok {
		return fmt.Errorf("field \"metric\": want a string, got %s", jsonKind(obj["metric"]))
	}
	v, ok := obj["value"]
	if !ok {
		return fmt.Errorf("field \"value\": missing")
	}
	if f := d.mapped[name]; f != nil {
		return d.emit(r, name, f.Metric, v, f)
	}
	return d.emit(r, name, name, v, nil)
}

// prepare sets the device and time of a record from its object.
func (d *jsonDecoder) prepare(obj map[string]any, r *record) error {
	if d.devPath != nil {
		v, ok := lookup(obj, d.devPath)
		if !ok {
			return fmt.Errorf("field %q: missing device", d.spec2devPath())
		}
		s, ok := scalarText(v)
		if !ok {
			return fmt.Errorf("field %q: device must be a string or number, got %s", d.spec2devPath(), jsonKind(v))
		}
		r.device = s
	}
	if err := checkDevice(r.device); err != nil {
		return err
	}
	return d.readTime(obj, r)
}

func (d *jsonDecoder) spec2devPath() string { return strings.Join(d.devPath, ".") }

func (d *jsonDecoder) readTime(obj map[string]any, r *record) error {
	var (
		v    any
		name string
		ok   bool
	)
	switch {
	case d.tsPath != nil:
		name = d.spec.Timestamp
		v, ok = lookup(obj, d.tsPath)
	case d.autoTime:
		name, v, ok = autoTimeKey(obj)
	}
	if !ok || v == nil {
		return nil
	}
	t, err := parseTimeValue(v, d.spec.TimeUnit)
	if err != nil {
		return fmt.Errorf("field %q: timestamp: %w", name, err)
	}
	r.time = t
	return nil
}

func autoTimeKey(obj map[string]any) (string, any, bool) {
	for _, k := range []string{"timestamp", "time", "ts"} {
		if v, ok := obj[k]; ok {
			return k, v, true
		}
	}
	for k, v := range obj {
		if l := strings.ToLower(k); l == "timestamp" || l == "time" || l == "ts" {
			return k, v, true
		}
	}
	return "", nil, false
}

func lookup(obj map[string]any, path []string) (any, bool) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// object decodes one JSON object: mapped fields first, then every other
// leaf under its flattened name.
func (d *jsonDecoder) object(obj map[string]any, r record) error {
	if err := d.prepare(obj, &r); err != nil {
		return err
	}
	for i := range d.spec.Fields {
		f := &d.spec.Fields[i]
		v, ok := lookup(obj, d.paths[i])
		if !ok || v == nil {
			continue
		}
		if err := d.emit(r, f.Path, f.Metric, v, f); err != nil {
			return err
		}
	}
	if d.spec.MappedOnly {
		return nil
	}
	return d.walk(obj, r, "", "", 0)
}

func (d *jsonDecoder) skip(path string, depth int) bool {
	if d.ignore[path] || d.mapped[path] != nil {
		return true
	}
	return depth == 0 && slices.Contains(defaultIgnore, strings.ToLower(path))
}

func (d *jsonDecoder) walk(v any, r record, path, name string, depth int) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p, n := join(path, ".", k), join(name, d.sep, k)
			if d.skip(p, depth) {
				continue
			}
			if err := d.walk(x[k], r, p, n, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			idx := fmt.Sprint(i)
			p, n := join(path, ".", idx), join(name, d.sep, idx)
			if d.skip(p, depth) {
				continue
			}
			if err := d.walk(e, r, p, n, depth+1); err != nil {
				return err
			}
		}
	case nil:
	default:
		return d.emit(r, path, name, x, nil)
	}
	return nil
}

func join(prefix, sep, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + sep + k
}

// emit appends one reading converted as f says (f may be nil).
func (d *jsonDecoder) emit(r record, path, metric string, v any, f *FieldMap) error {
	if len(*r.out) >= MaxReadings {
		return fmt.Errorf("payload: %w: more than %d readings", ErrTooLarge, MaxReadings)
	}
	if err := point.ValidName(metric); err != nil {
		return fmt.Errorf("field %q: metric: %w", path, err)
	}
	val, err := d.convert(v, f)
	if err != nil {
		return fmt.Errorf("field %q: %w", path, err)
	}
	*r.out = append(*r.out, point.Reading{Device: r.device, Metric: metric, Tags: r.tags, Time: r.time, Value: val})
	return nil
}
