package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// scanJSON is the fast path of decodeJSON for what gateways send every
// second: reports, groups, heartbeats, acks and command acks written the
// way Encode writes them. It fills j exactly as json.Unmarshal would and
// returns false for anything it does not handle, and then decodeJSON uses
// json.Unmarshal: escapes in strings, keys other than the lowercase ones
// of the forms below (json.Unmarshal matches keys ignoring case), a
// repeated key, null, an integer that needs more than a plain digit run,
// command bodies, a syntax error. FuzzScanJSON holds it to json.Unmarshal.
//
// It allocates a string per id and sensor, one buffer for every frame's
// bytes (each frame a capacity-limited slice of it), and shares one
// contract string between consecutive frames that name the same contract.
func scanJSON(b []byte, j *jsonEnvelope) bool {
	s := scanner{b: b}
	if !s.object(func(key []byte) bool { return s.envelopeField(key, j) }) {
		return false
	}
	s.space()
	return s.off == len(s.b)
}

type scanner struct {
	b    []byte
	off  int
	seen uint16 // keys of the current object, as bits of field

	objects  int    // objects left in the items, at most (each '{')
	frames   []byte // shared backing of the frames decoded so far
	contract string // last contract seen, reused when the next is equal
}

func (s *scanner) space() {
	for s.off < len(s.b) {
		switch s.b[s.off] {
		case ' ', '\t', '\r', '\n':
			s.off++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	s.space()
	if s.off < len(s.b) && s.b[s.off] == c {
		s.off++
		return true
	}
	return false
}

// object reads {"key": value, ...}; field reads the value of each key.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	outer := s.seen
	defer func() { s.seen = outer }()
	s.seen = 0
	if s.consume('}') {
		return true
	}
	for {
		key, ok := s.plainString()
		if !ok || !s.consume(':') || !field(key) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// once marks bit as seen in the current object; a repeated key is left to
// json.Unmarshal.
func (s *scanner) once(bit uint16) bool {
	if s.seen&bit != 0 {
		return false
	}
	s.seen |= bit
	return true
}

func (s *scanner) envelopeField(key []byte, j *jsonEnvelope) bool {
	var ok bool
	switch string(key) {
	case "v":
		ok = s.once(1 << 0)
		j.V = int(s.int64(&ok))
		ok = ok && j.V == int(int32(j.V)) // json.Unmarshal refuses what int cannot hold; be safe on 32 bits
	case "type":
		ok = s.once(1 << 1)
		j.Type = s.typeName(&ok)
	case "id":
		ok = s.once(1 << 2)
		j.ID = s.str(&ok)
	case "ts":
		ok = s.once(1 << 3)
		j.TS = s.int64(&ok)
	case "items":
		ok = s.once(1<<4) && s.items(j)
	}
	return ok
}

func (s *scanner) items(j *jsonEnvelope) bool {
	if !s.consume('[') {
		return false
	}
	// json.Unmarshal makes [] an empty, non-nil slice. Every item is an
	// object, so the braces bound their count.
	s.objects = min(bytes.Count(s.b[s.off:], []byte{'{'}), MaxItems)
	j.Items = make([]jsonItem, 0, s.objects)
	if s.consume(']') {
		return true
	}
	for {
		if len(j.Items) >= MaxItems {
			return false // let json.Unmarshal and the limit check speak
		}
		j.Items = append(j.Items, jsonItem{})
		it := &j.Items[len(j.Items)-1]
		s.objects--
		if !s.object(func(key []byte) bool { return s.itemField(key, it) }) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume(']')
	}
}

func (s *scanner) itemField(key []byte, it *jsonItem) bool {
	var ok bool
	switch string(key) {
	case "sensor":
		ok = s.once(1 << 0)
		it.Sensor = s.str(&ok)
	case "metric":
		ok = s.once(1 << 1)
		it.Metric = s.str(&ok)
	case "value":
		ok = s.once(1 << 2)
		it.Value = s.value(&ok)
	case "type":
		ok = s.once(1 << 3)
		it.Type = s.typeName(&ok)
	case "contract":
		ok = s.once(1 << 4)
		it.Contract = s.contractName(&ok)
	case "frame":
		ok = s.once(1 << 5)
		it.Frame = s.frame(&ok)
	case "ts":
		ok = s.once(1 << 6)
		it.TS = s.int64(&ok)
	}
	return ok
}

// plainString reads a string without escapes or control characters and
// returns its bytes (a slice of the input).
func (s *scanner) plainString() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.off
	ascii := true
	for ; s.off < len(s.b); s.off++ {
		switch c := s.b[s.off]; {
		case c == '"':
			v := s.b[start:s.off]
			s.off++
			// json.Unmarshal replaces invalid UTF-8; leave that to it.
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

func (s *scanner) str(ok *bool) string {
	b, good := s.plainString()
	*ok = *ok && good
	return string(b)
}

// typeName reads a type name ("group", "int", ...) without allocating for
// the names this package knows.
func (s *scanner) typeName(ok *bool) string {
	b, good := s.plainString()
	*ok = *ok && good
	for _, n := range typeNames[1:] {
		if string(b) == n {
			return n
		}
	}
	for _, n := range [...]string{"int", "float", "bool", "string"} {
		if string(b) == n {
			return n
		}
	}
	return string(b)
}

func (s *scanner) contractName(ok *bool) string {
	b, good := s.plainString()
	*ok = *ok && good
	if string(b) != s.contract {
		s.contract = string(b)
	}
	return s.contract
}

// frame reads a base64 string into the shared frame buffer.
func (s *scanner) frame(ok *bool) []byte {
	b, good := s.plainString()
	if !good {
		*ok = false
		return nil
	}
	n := base64.StdEncoding.DecodedLen(len(b))
	if cap(s.frames)-len(s.frames) < n {
		// Room for this frame and one of its size for each item left.
		s.frames = make([]byte, 0, n*(1+max(s.objects, 0)))
	}
	start := len(s.frames)
	m, err := base64.StdEncoding.Decode(s.frames[start:start+n], b)
	if err != nil {
		*ok = false
		return nil
	}
	s.frames = s.frames[:start+m]
	return s.frames[start : start+m : start+m]
}

// int64 reads -?digits as json.Unmarshal reads an int64 field.
func (s *scanner) int64(ok *bool) int64 {
	s.space()
	start := s.off
	if s.off < len(s.b) && s.b[s.off] == '-' {
		s.off++
	}
	digits := s.off
	for s.off < len(s.b) && s.b[s.off] >= '0' && s.b[s.off] <= '9' {
		s.off++
	}
	// No digits, a leading zero, or a fraction or exponent next: not ours.
	if s.off == digits || (s.b[digits] == '0' && s.off-digits > 1) || s.numberGoesOn() {
		*ok = false
		return 0
	}
	v, err := strconv.ParseInt(string(s.b[start:s.off]), 10, 64)
	if err != nil {
		*ok = false
	}
	return v
}

func (s *scanner) numberGoesOn() bool {
	if s.off >= len(s.b) {
		return false
	}
	c := s.b[s.off]
	return c == '.' || c == 'e' || c == 'E' || (c >= '0' && c <= '9')
}

// value reads a number, true, false or a plain string and returns its raw
// bytes, as json.RawMessage holds them.
func (s *scanner) value(ok *bool) json.RawMessage {
	s.space()
	if s.off >= len(s.b) {
		*ok = false
		return nil
	}
	start := s.off
	switch c := s.b[s.off]; {
	case c == '"':
		_, good := s.plainString()
		*ok = *ok && good
	case c == 't':
		*ok = *ok && s.literal("true")
	case c == 'f':
		*ok = *ok && s.literal("false")
	case c == '-' || (c >= '0' && c <= '9'):
		*ok = *ok && s.number()
	default:
		*ok = false
	}
	return json.RawMessage(s.b[start:s.off:s.off])
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.off < len(lit) || string(s.b[s.off:s.off+len(lit)]) != lit {
		return false
	}
	s.off += len(lit)
	return true
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.b[s.off] == '-' {
		s.off++
	}
	switch {
	case s.off < len(s.b) && s.b[s.off] == '0':
		s.off++
	case s.digits() == 0:
		return false
	}
	if s.off < len(s.b) && s.b[s.off] == '.' {
		s.off++
		if s.digits() == 0 {
			return false
		}
	}
	if s.off < len(s.b) && (s.b[s.off] == 'e' || s.b[s.off] == 'E') {
		s.off++
		if s.off < len(s.b) && (s.b[s.off] == '+' || s.b[s.off] == '-') {
			s.off++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *scanner) digits() int {
	start := s.off
	for s.off < len(s.b) && s.b[s.off] >= '0' && s.b[s.off] <= '9' {
		s.off++
	}
	return s.off - start
}
