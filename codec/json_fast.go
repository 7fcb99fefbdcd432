package codec

import (
	"math"
	"strconv"
	"strings"

	"github.com/edgevault/edgevault/point"
)

// fastRecord is the state of decoding the scanned object into readings.
type fastRecord struct {
	s      *scan
	device string
	tags   []point.Tag
	time   int64
	out    []point.Reading
}

// decodeFast decodes the payload shapes the scanner reads (json_scan.go)
// exactly as decodeSlow would. ok is false when it does not handle the
// payload or the payload does not decode: decodeSlow then decides, and
// words the error.
func (d *jsonDecoder) decodeFast(m Message, device string, tags []point.Tag) (_ Decoded, ok bool) {
	s := getScan()
	defer s.release()
	if !s.parse(m.Payload) {
		return Decoded{}, false
	}
	r := fastRecord{s: s, device: device, tags: tags, time: m.Received}
	if !d.fastPrepare(&r) {
		return Decoded{}, false
	}
	if n := s.leaves + len(d.spec.Fields); n > 0 {
		r.out = make([]point.Reading, 0, min(n, MaxReadings))
	}
	for i := range d.spec.Fields {
		f := &d.spec.Fields[i]
		n, found := s.lookup(0, d.paths[i])
		if !found || s.nodes[n].kind == fkNull {
			continue
		}
		if !d.fastEmit(&r, f.Metric, n, f) {
			return Decoded{}, false
		}
	}
	if !d.spec.MappedOnly && !d.fastWalk(&r, 0, 0, 0, 0) {
		return Decoded{}, false
	}
	if len(r.out) == 0 {
		r.out = nil // as decodeSlow
	}
	return Decoded{Readings: r.out}, true
}

// fastPrepare sets the device and time of the record, as prepare does.
func (d *jsonDecoder) fastPrepare(r *fastRecord) bool {
	s := r.s
	if d.devPath != nil {
		n, found := s.lookup(0, d.devPath)
		if !found {
			return false
		}
		switch s.nodes[n].kind {
		case fkString, fkNumber:
			r.device = d.values.intern(s.val(n))
		case fkTrue:
			r.device = "true"
		case fkFalse:
			r.device = "false"
		default:
			return false
		}
	}
	if checkDevice(r.device) != nil {
		return false
	}
	n, found, ok := int32(0), false, true
	switch {
	case d.tsPath != nil:
		n, found = s.lookup(0, d.tsPath)
	case d.autoTime:
		if n, found, ok = s.autoTimeKey(); !ok {
			return false
		}
	}
	if !found || s.nodes[n].kind == fkNull {
		return true
	}
	t, ok := d.fastTime(s, n)
	r.time = t
	return ok
}

func (d *jsonDecoder) fastTime(s *scan, n int32) (int64, bool) {
	unit := d.spec.TimeUnit
	if unit == "" {
		unit = UnitAuto
	}
	switch s.nodes[n].kind {
	case fkNumber:
		return fastEpoch(s.val(n), unit)
	case fkString:
		t, err := parseTimeString(string(s.val(n)), unit)
		return t, err == nil
	}
	return 0, false
}

// fastEpoch is parseEpoch on a JSON number, without allocating.
func fastEpoch(raw []byte, unit string) (int64, bool) {
	if unit == UnitRFC3339 {
		return 0, false
	}
	if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		if unit == UnitAuto {
			unit = autoUnit(math.Abs(float64(n)))
		}
		t, err := epochToMS(n, unit)
		return t, err == nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, false
	}
	if unit == UnitAuto {
		unit = autoUnit(math.Abs(f))
	}
	t, err := floatToMS(f, unit)
	return t, err == nil
}

// lookup follows a dotted path from object n, as lookup does on maps.
func (s *scan) lookup(n int32, path []string) (int32, bool) {
	for _, p := range path {
		if s.nodes[n].kind != fkObject {
			return 0, false
		}
		next := int32(-1)
		for _, k := range s.members(n) {
			if string(s.key(k)) == p {
				next = k
				break
			}
		}
		if next < 0 {
			return 0, false
		}
		n = next
	}
	return n, true
}

// timeKeys are the top-level keys autoTimeKey looks for, in its order.
var timeKeys = []string{"timestamp", "time", "ts"}

// autoTimeKey finds the top-level time key as autoTimeKey does. ok is
// false when only differently-cased keys match and there are several:
// encoding/json's map order then picks one at random, so the slow path
// decides.
func (s *scan) autoTimeKey() (n int32, found, ok bool) {
	for _, want := range timeKeys {
		for _, k := range s.members(0) {
			if string(s.key(k)) == want {
				return k, true, true
			}
		}
	}
	for _, k := range s.members(0) {
		key := s.key(k)
		for _, want := range timeKeys {
			if lowerIs(key, want) {
				if found {
					return 0, false, false
				}
				n, found = k, true
			}
		}
	}
	return n, found, true
}

// lowerIs reports whether strings.ToLower(string(key)) == want (want is
// lower-case ASCII) without allocating for ASCII keys.
func lowerIs(key []byte, want string) bool {
	if !isASCII(key) {
		return strings.ToLower(string(key)) == want
	}
	if len(key) != len(want) {
		return false
	}
	for i, c := range key {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// fastWalk emits every leaf below object n under its flattened name, in
// the sorted key order of walk.
func (d *jsonDecoder) fastWalk(r *fastRecord, n int32, pathLen, nameLen, depth int) bool {
	s := r.s
	for _, k := range s.members(n) {
		key := s.key(k)
		s.path = appendJoin(s.path[:pathLen], '.', key)
		s.name = appendJoin(s.name[:nameLen], d.sep[0], key)
		if d.fastSkip(s.path, depth) {
			continue
		}
		switch s.nodes[k].kind {
		case fkNull:
		case fkObject:
			if !d.fastWalk(r, k, len(s.path), len(s.name), depth+1) {
				return false
			}
		default:
			metric, ok := d.metricName(s.name)
			if !ok || !d.fastEmit(r, metric, k, nil) {
				return false
			}
		}
	}
	return true
}

func appendJoin(prefix []byte, sep byte, k []byte) []byte {
	if len(prefix) > 0 {
		prefix = append(prefix, sep)
	}
	return append(prefix, k...)
}

// fastSkip is skip on a path held in bytes.
func (d *jsonDecoder) fastSkip(path []byte, depth int) bool {
	if len(d.ignore) > 0 && d.ignore[string(path)] {
		return true
	}
	if len(d.mapped) > 0 && d.mapped[string(path)] != nil {
		return true
	}
	return depth == 0 && defaultIgnored(path)
}

// defaultIgnored reports whether strings.ToLower(string(key)) is one of
// defaultIgnore, looking at most ASCII keys only once.
func defaultIgnored(key []byte) bool {
	if n := len(key); (n >= 64 || defaultIgnoreLens&(1<<n) == 0) && isASCII(key) {
		return false
	}
	for _, k := range defaultIgnore {
		if lowerIs(key, k) {
			return true
		}
	}
	return false
}

// defaultIgnoreLens has bit n set when a defaultIgnore key is n bytes long.
var defaultIgnoreLens = func() (m uint64) {
	for _, k := range defaultIgnore {
		m |= 1 << len(k)
	}
	return m
}()

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// metricName returns a valid metric name for a flattened key; only valid
// names are cached, so a hit needs no check.
func (d *jsonDecoder) metricName(b []byte) (string, bool) {
	if s, ok := d.names.get(b); ok {
		return s, true
	}
	s := string(b)
	if point.ValidName(s) != nil {
		return "", false
	}
	d.names.add(s)
	return s, true
}

// fastEmit is emit for a metric known to be a valid name.
func (d *jsonDecoder) fastEmit(r *fastRecord, metric string, n int32, f *FieldMap) bool {
	if len(r.out) >= MaxReadings {
		return false
	}
	v, ok := d.fastConvert(r.s, n, f)
	if !ok {
		return false
	}
	r.out = append(r.out, point.Reading{Device: r.device, Metric: metric, Tags: r.tags, Time: r.time, Value: v})
	return true
}
