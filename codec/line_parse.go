package codec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/edgevault/edgevault/point"
)

// seriesOf returns the cached series of a raw measurement+tags key.
func (p *lineParser) seriesOf(key string) *seriesEntry {
	if se, ok := p.series[key]; ok {
		return se
	}
	se := p.parseSeries(key)
	p.series[strings.Clone(key)] = se
	return se
}

func (p *lineParser) parseSeries(key string) *seriesEntry {
	i := scanUntil(key, ',')
	m := unescape(key[:i])
	if m == "" {
		return &seriesEntry{err: fmt.Errorf("missing measurement")}
	}
	se := &seriesEntry{measurement: m, device: p.opts.DefaultDevice}
	for i < len(key) {
		rest := key[i+1:]
		j := scanUntil(rest, ',')
		kv := rest[:j]
		eq := scanUntil(kv, '=')
		if eq == len(kv) {
			return &seriesEntry{err: fmt.Errorf("tag %q: missing '='", clip(kv))}
		}
		k, v := unescape(kv[:eq]), unescape(kv[eq+1:])
		if err := point.ValidName(k); err != nil {
			return &seriesEntry{err: fmt.Errorf("tag key: %w", err)}
		}
		if err := point.ValidName(v); err != nil {
			return &seriesEntry{err: fmt.Errorf("tag %s: %w", k, err)}
		}
		if k == p.opts.DeviceTag {
			se.device = v
		} else {
			se.tags = append(se.tags, point.Tag{Key: k, Value: v})
		}
		i += j + 1
	}
	if se.device == "" {
		return &seriesEntry{err: fmt.Errorf("no %q tag names the device", p.opts.DeviceTag)}
	}
	point.SortTags(se.tags)
	for i := 1; i < len(se.tags); i++ {
		if se.tags[i].Key == se.tags[i-1].Key {
			return &seriesEntry{err: fmt.Errorf("tag %q appears twice", se.tags[i].Key)}
		}
	}
	return se
}

// scanUntil returns the index of the first unescaped c, or len(s).
func scanUntil(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case c:
			return i
		}
	}
	return len(s)
}

// unescape removes the backslash of \, \= \space and \\ and returns a copy
// safe to keep after the body is gone.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return strings.Clone(s)
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case ',', '=', ' ', '\\', '"':
				i++
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// fields parses field=value pairs up to the timestamp and appends one
// reading per field; it returns what follows the fields.
func (p *lineParser) fields(s string, se *seriesEntry) (string, error) {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for k := 0; ; {
		eq := scanUntil(s, '=')
		if eq == len(s) || eq == 0 {
			return "", fmt.Errorf("field %q: missing key or '='", clip(s))
		}
		rawKey := s[:eq]
		s = s[eq+1:]
		var (
			v   point.Value
			n   int
			err error
		)
		if len(s) > 0 && s[0] == '"' {
			v, n, err = quoted(s)
		} else {
			n = fieldEnd(s)
			v, err = fieldValue(s[:n])
		}
		if err != nil {
			return "", fmt.Errorf("field %q: %w", unescape(rawKey), err)
		}
		me := p.fieldMetric(se, k, rawKey)
		k++
		if me.err != nil {
			return "", me.err
		}
		p.out = append(p.out, point.Reading{Device: se.device, Metric: me.name, Tags: se.tags, Value: v})
		s = s[n:]
		if len(s) == 0 || s[0] == ' ' {
			return s, nil
		}
		if s[0] != ',' {
			return "", fmt.Errorf("field %q: unexpected %q after the value", unescape(rawKey), s[0])
		}
		s = s[1:]
	}
}

// fieldEnd returns the end of an unquoted field value.
func fieldEnd(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' || s[i] == ' ' {
			return i
		}
	}
	return len(s)
}

// fieldMetric returns the metric of the k-th field of a line of se.
func (p *lineParser) fieldMetric(se *seriesEntry, k int, rawKey string) metricEntry {
	if k < len(se.fields) && se.fields[k].raw == rawKey {
		return se.fields[k].me
	}
	me := p.metricOf(se.measurement, rawKey)
	if k == len(se.fields) && k < maxCachedFields {
		raw := me.name // already a copy when the metric is the plain key
		if raw != rawKey {
			raw = strings.Clone(rawKey)
		}
		se.fields = append(se.fields, fieldMetric{raw: raw, me: me})
	}
	return me
}

func (p *lineParser) metricOf(measurement, rawKey string) metricEntry {
	mk := metricKey{field: rawKey}
	if p.opts.MetricFormat != "field" {
		mk.measurement = measurement
	}
	if me, ok := p.metrics[mk]; ok {
		return me
	}
	name := unescape(rawKey)
	switch p.opts.MetricFormat {
	case "measurement_field":
		name = measurement + "_" + name
	case "measurement.field":
		name = measurement + "." + name
	}
	me := metricEntry{name: name}
	if err := point.ValidName(name); err != nil {
		me.err = fmt.Errorf("field %q: metric: %w", name, err)
	}
	mk.field = strings.Clone(rawKey)
	p.metrics[mk] = me
	return me
}

// quoted parses a double-quoted string value; n is its length with quotes.
func quoted(s string) (v point.Value, n int, err error) {
	esc := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			esc = true
			i++
		case '"':
			body := s[1:i]
			if !esc {
				return point.String(strings.Clone(body)), i + 1, nil
			}
			return point.String(unescapeQuoted(body)), i + 1, nil
		}
	}
	return point.Value{}, 0, fmt.Errorf("unterminated string")
}

func unescapeQuoted(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// fieldValue parses a float, 1i integer, 1u unsigned or boolean.
func fieldValue(s string) (point.Value, error) {
	if s == "" {
		return point.Value{}, fmt.Errorf("missing value")
	}
	switch s {
	case "t", "T", "true", "True", "TRUE":
		return point.Bool(true), nil
	case "f", "F", "false", "False", "FALSE":
		return point.Bool(false), nil
	}
	switch s[len(s)-1] {
	case 'i':
		i, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
		if err != nil {
			return point.Value{}, fmt.Errorf("bad integer %q", clip(s))
		}
		return point.Int(i), nil
	case 'u':
		u, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
		if err != nil || u > math.MaxInt64 {
			return point.Value{}, fmt.Errorf("bad unsigned integer %q (edgevault keeps int64)", clip(s))
		}
		return point.Int(int64(u)), nil
	}
	if c := s[0]; c != '-' && c != '+' && c != '.' && (c < '0' || c > '9') {
		return point.Value{}, fmt.Errorf("bad value %q", clip(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return point.Value{}, fmt.Errorf("bad number %q", clip(s))
	}
	return point.Float(f), nil
}

// timestamp parses the optional timestamp after the fields and stamps the
// readings of the line from start on.
func (p *lineParser) timestamp(s string, start int) error {
	s = strings.Trim(s, " \t")
	t := p.now
	if s != "" {
		ts, ok := parseInt(s)
		if !ok {
			return fmt.Errorf("%w %q", errLineTimestamp, clip(s))
		}
		if p.mul > 1 && (ts > math.MaxInt64/p.mul || ts < math.MinInt64/p.mul) {
			return fmt.Errorf("%w %q: out of range", errLineTimestamp, clip(s))
		}
		t = ts * p.mul / p.div
	}
	for i := start; i < len(p.out); i++ {
		p.out[i].Time = t
	}
	return nil
}

// parseInt is strconv.ParseInt for base 10 without its error allocation.
func parseInt(s string) (int64, bool) {
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}
