package routing

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// glob is a precompiled name pattern: * matches any run of characters
// (including none), ? exactly one character. Common shapes (literal,
// prefix*, *suffix, *infix*) skip the general matcher.
type glob struct {
	kind globKind
	lit  string // literal, prefix, suffix or infix, per kind
	pat  string // the whole pattern for globGeneral
}

type globKind uint8

const (
	globAny globKind = iota // empty pattern or "*"
	globLiteral
	globPrefix
	globSuffix
	globInfix
	globGeneral
)

func compileGlob(p string) (glob, error) {
	if !utf8.ValidString(p) {
		return glob{}, fmt.Errorf("pattern %q is not valid UTF-8", p)
	}
	if p == "" || strings.Trim(p, "*") == "" {
		return glob{kind: globAny}, nil
	}
	if strings.Contains(p, "?") {
		return glob{kind: globGeneral, pat: p}, nil
	}
	inner := strings.Trim(p, "*")
	if strings.Contains(inner, "*") {
		return glob{kind: globGeneral, pat: p}, nil
	}
	lead, trail := p[0] == '*', p[len(p)-1] == '*'
	switch {
	case lead && trail:
		return glob{kind: globInfix, lit: inner}, nil
	case lead:
		return glob{kind: globSuffix, lit: inner}, nil
	case trail:
		return glob{kind: globPrefix, lit: inner}, nil
	}
	return glob{kind: globLiteral, lit: p}, nil
}

func (g *glob) match(s string) bool {
	switch g.kind {
	case globAny:
		return true
	case globLiteral:
		return s == g.lit
	case globPrefix:
		return strings.HasPrefix(s, g.lit)
	case globSuffix:
		return strings.HasSuffix(s, g.lit)
	case globInfix:
		return strings.Contains(s, g.lit)
	}
	return globMatch(g.pat, s)
}

// globMatch is the classic linear-backtracking wildcard matcher: on a
// mismatch it retries from the last * with one more character consumed,
// so it runs in O(len(p)*len(s)) without recursion or allocation.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == '*':
				starP, starS = pi, si
				pi++
				continue
			case c == '?':
				_, n := utf8.DecodeRuneInString(s[si:])
				pi, si = pi+1, si+n
				continue
			case c == s[si]:
				pi, si = pi+1, si+1
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last * swallow one more character and retry after it.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = starP+1, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// topicFilter is a precompiled MQTT topic filter.
type topicFilter struct {
	any    bool     // empty filter: match every topic
	levels []string // "+" and a final "#" are wildcards
}

func compileTopic(f string) (topicFilter, error) {
	if f == "" {
		return topicFilter{any: true}, nil
	}
	if !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
		return topicFilter{}, fmt.Errorf("filter %q is not valid UTF-8 without NUL", f)
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		// [MQTT-4.7.1-2] '#' stands alone and last; [MQTT-4.7.1-3] '+' fills a whole level.
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return topicFilter{}, fmt.Errorf("filter %q: '#' must be a whole level and the last one", f)
		}
		if strings.Contains(l, "+") && l != "+" {
			return topicFilter{}, fmt.Errorf("filter %q: '+' must be a whole level", f)
		}
	}
	return topicFilter{levels: levels}, nil
}

func (t *topicFilter) match(topic string) bool {
	if t.any {
		return true
	}
	// [MQTT-4.7.2-1] wildcards in the first level do not match topics starting with $.
	if len(topic) > 0 && topic[0] == '$' && (t.levels[0] == "+" || t.levels[0] == "#") {
		return false
	}
	rest, more := topic, true
	for _, l := range t.levels {
		if l == "#" {
			return true // also matches the parent level: "a/#" matches "a"
		}
		if !more {
			return false
		}
		var level string
		level, rest, more = strings.Cut(rest, "/")
		if l != "+" && l != level {
			return false
		}
	}
	return !more
}
