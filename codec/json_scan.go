package codec

import (
	"bytes"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// The fast JSON path (json_fast.go) reads the common payload shape, one
// object of numbers, booleans, strings, nulls and nested objects, without
// encoding/json, maps or reflection. The scanner here is deliberately
// narrower than JSON: anything it does not handle (arrays, \u escapes of
// UTF-16 surrogates, invalid UTF-8, duplicate keys, deep nesting, huge
// objects, invalid JSON) makes it
// give up, and the message goes through the encoding/json path, which then
// decides, so results and errors stay exactly those of that path.

// Limits of the fast path; beyond them the encoding/json path decides.
const (
	fastMaxDepth = 8    // object nesting
	fastMaxNodes = 1024 // keys in one payload
	fastMaxBuf   = 4096 // bytes of pooled path buffers kept for reuse
)

// Kinds of scanned values.
const (
	fkObject uint8 = iota + 1
	fkNumber
	fkString
	fkTrue
	fkFalse
	fkNull
)

// fnode is one key and its value. Offsets index the payload, or esc for a
// key or string value with escapes; strings exclude the quotes. An object's members, sorted by key as
// encoding/json's map walk sees them, are kids[kid0:kid1] of the scan.
type fnode struct {
	key0, key1 int32
	val0, val1 int32
	kid0, kid1 int32
	kind       uint8
	kesc, vesc bool // key, value offsets index esc
}

// scan is the reusable state of one fast decode.
type scan struct {
	b      []byte
	nodes  []fnode // nodes[0] is the top-level object
	kids   []int32
	stack  []int32 // members of the objects being read
	esc    []byte  // unescaped keys and strings
	path   []byte  // dotted path of the walk
	name   []byte  // metric name of the walk
	leaves int     // scalar values, an upper bound on readings
}

var scanPool = sync.Pool{New: func() any { return new(scan) }}

func getScan() *scan { return scanPool.Get().(*scan) }

func (s *scan) release() {
	s.b = nil
	if cap(s.path) > fastMaxBuf || cap(s.name) > fastMaxBuf || cap(s.esc) > fastMaxBuf {
		s.path, s.name, s.esc = nil, nil, nil
	}
	scanPool.Put(s)
}

func (s *scan) key(n int32) []byte {
	if nd := &s.nodes[n]; nd.kesc {
		return s.esc[nd.key0:nd.key1]
	}
	return s.b[s.nodes[n].key0:s.nodes[n].key1]
}

func (s *scan) val(n int32) []byte {
	if nd := &s.nodes[n]; nd.vesc {
		return s.esc[nd.val0:nd.val1]
	}
	return s.b[s.nodes[n].val0:s.nodes[n].val1]
}
func (s *scan) members(n int32) []int32 {
	return s.kids[s.nodes[n].kid0:s.nodes[n].kid1]
}

// parse reads b as exactly one JSON object with optional white space
// around it; false means the fast path does not handle b.
func (s *scan) parse(b []byte) bool {
	s.b, s.nodes, s.kids, s.stack, s.esc, s.leaves = b, s.nodes[:0], s.kids[:0], s.stack[:0], s.esc[:0], 0
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	s.nodes = append(s.nodes, fnode{kind: fkObject})
	i, ok := s.object(0, i+1, 1)
	return ok && skipWS(b, i) == len(b)
}

// object reads the members of object n after its '{'.
func (s *scan) object(n int32, i, depth int) (int, bool) {
	b, base := s.b, len(s.stack)
	if i = skipWS(b, i); i < len(b) && b[i] == '}' {
		return i + 1, s.close(n, base)
	}
	for {
		if i >= len(b) || b[i] != '"' || len(s.nodes) >= fastMaxNodes {
			return 0, false
		}
		k0, k1, end, esc, ok := s.str(i + 1)
		if !ok {
			return 0, false
		}
		if i = skipWS(b, end+1); i >= len(b) || b[i] != ':' {
			return 0, false
		}
		kid := int32(len(s.nodes))
		s.nodes = append(s.nodes, fnode{key0: int32(k0), key1: int32(k1), kesc: esc})
		s.stack = append(s.stack, kid)
		if i, ok = s.value(kid, skipWS(b, i+1), depth); !ok {
			return 0, false
		}
		if i = skipWS(b, i); i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, s.close(n, base)
		default:
			return 0, false
		}
	}
}

// close sorts the members of object n, pushed on the stack since base,
// and moves them to kids. Duplicate keys are left to encoding/json.
func (s *scan) close(n int32, base int) bool {
	m := s.stack[base:]
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && bytes.Compare(s.key(m[j-1]), s.key(m[j])) > 0; j-- {
			m[j-1], m[j] = m[j], m[j-1]
		}
	}
	for i := 1; i < len(m); i++ {
		if bytes.Equal(s.key(m[i-1]), s.key(m[i])) {
			return false
		}
	}
	s.nodes[n].kid0 = int32(len(s.kids))
	s.kids = append(s.kids, m...)
	s.nodes[n].kid1 = int32(len(s.kids))
	s.stack = s.stack[:base]
	return true
}

// value reads the value of member n at b[i].
func (s *scan) value(n int32, i, depth int) (int, bool) {
	b := s.b
	if i >= len(b) {
		return 0, false
	}
	nd := &s.nodes[n]
	end, kind := 0, uint8(0)
	switch c := b[i]; {
	case c == '{':
		if depth >= fastMaxDepth {
			return 0, false
		}
		nd.kind = fkObject
		return s.object(n, i+1, depth+1)
	case c == '"':
		v0, v1, e, esc, ok := s.str(i + 1)
		if !ok {
			return 0, false
		}
		nd.val0, nd.val1, nd.vesc, nd.kind = int32(v0), int32(v1), esc, fkString
		s.leaves++
		return e + 1, true
	case c == 't' && bytes.HasPrefix(b[i:], litTrue):
		end, kind = i+4, fkTrue
	case c == 'f' && bytes.HasPrefix(b[i:], litFalse):
		end, kind = i+5, fkFalse
	case c == 'n' && bytes.HasPrefix(b[i:], litNull):
		end, kind = i+4, fkNull
	case c == '-' || c >= '0' && c <= '9':
		end, kind = number(b, i), fkNumber
	}
	if end <= i {
		return 0, false
	}
	nd.val0, nd.val1, nd.kind = int32(i), int32(end), kind
	if kind != fkNull {
		s.leaves++
	}
	return end, true
}

var (
	litTrue  = []byte("true")
	litFalse = []byte("false")
	litNull  = []byte("null")
)

// str reads the string whose contents start at b[i]. Its text is
// b[v0:v1], or esc[v0:v1] when esc is true; end is its closing quote.
// Control characters and invalid UTF-8 (which encoding/json replaces) are
// not handled.
func (s *scan) str(i int) (v0, v1, end int, esc, ok bool) {
	b, ascii := s.b, true
	for j := i; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[i:j]) {
				return 0, 0, 0, false, false
			}
			if !esc {
				return i, j, j, false, true
			}
			v0 = len(s.esc)
			s.esc, ok = unescapeJSON(s.esc, b[i:j])
			return v0, len(s.esc), j, true, ok
		case c == '\\':
			esc = true
			j++ // the escaped byte; \u digits are read by unescapeJSON
		case c < 0x20:
			return 0, 0, 0, false, false
		case c >= 0x80:
			ascii = false
		}
	}
	return 0, 0, 0, false, false
}

// unescapeJSON appends the text of a JSON string's contents to dst as
// encoding/json decodes it. UTF-16 surrogates (\ud83d...), which
// encoding/json pairs or replaces, are not handled.
func unescapeJSON(dst, src []byte) ([]byte, bool) {
	for k := 0; k < len(src); k++ {
		c := src[k]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		if k++; k >= len(src) {
			return dst, false
		}
		switch c = src[k]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(src[k+1:])
			if !ok || r >= 0xd800 && r < 0xe000 {
				return dst, false
			}
			dst = utf8.AppendRune(dst, r)
			k += 4
		default:
			return dst, false
		}
	}
	return dst, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number returns the end of the JSON number at b[i], or i if there is none:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) int {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return start
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			return start
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return start
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Bounds of an intern cache.
const (
	internMaxEntries = 256
	internMaxLen     = 64
)

// internCache maps byte strings seen before to one shared string, so the
// metric names of repeated keys cost no allocation. Reads are lock-free on
// an immutable map; a miss copies the map, which stops growing at
// internMaxEntries, so hostile keys cost an allocation each and no memory.
type internCache struct {
	m  atomic.Pointer[map[string]string]
	mu sync.Mutex // serialises writers
}

func (c *internCache) get(b []byte) (string, bool) {
	m := c.m.Load()
	if m == nil {
		return "", false
	}
	s, ok := (*m)[string(b)]
	return s, ok
}

func (c *internCache) add(s string) {
	if len(s) > internMaxLen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	n := 0
	if old != nil {
		if _, ok := (*old)[s]; ok || len(*old) >= internMaxEntries {
			return
		}
		n = len(*old)
	}
	m := make(map[string]string, n+1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[s] = s
	c.m.Store(&m)
}

// intern returns b as a string, shared with earlier calls when cached.
func (c *internCache) intern(b []byte) string {
	if s, ok := c.get(b); ok {
		return s
	}
	s := string(b)
	c.add(s)
	return s
}
