package codec

import (
	"fmt"
	"strings"

	"github.com/edgevault/edgevault/point"
)

// segKind is what one level of a topic pattern matches.
type segKind uint8

const (
	segLiteral segKind = iota
	segPlus            // + : any one level
	segHash            // # : this level and all below, last only
	segCapture         // {name} : any one level, remembered as name
)

type segment struct {
	kind segKind
	text string // literal text or capture name
}

// pattern is a compiled topic filter.
type pattern struct {
	segs []segment
}

// compilePattern parses an MQTT topic filter whose levels may also be
// {name} captures. A capture named "device" names the device; others
// become series tags.
func compilePattern(p string) (pattern, error) {
	if p == "" {
		return pattern{}, fmt.Errorf("empty topic pattern")
	}
	levels := strings.Split(p, "/")
	segs := make([]segment, len(levels))
	seen := map[string]bool{}
	for i, l := range levels {
		switch {
		case l == "+":
			segs[i] = segment{kind: segPlus}
		case l == "#":
			if i != len(levels)-1 {
				return pattern{}, fmt.Errorf("'#' must be the last level of %q", p)
			}
			segs[i] = segment{kind: segHash}
		case strings.HasPrefix(l, "{") && strings.HasSuffix(l, "}") && len(l) > 2:
			name := l[1 : len(l)-1]
			if !identifier(name) {
				return pattern{}, fmt.Errorf("capture %q in %q: want letters, digits and _", l, p)
			}
			if seen[name] {
				return pattern{}, fmt.Errorf("capture {%s} appears twice in %q", name, p)
			}
			seen[name] = true
			segs[i] = segment{kind: segCapture, text: name}
		case strings.ContainsAny(l, "+#{}\x00"):
			return pattern{}, fmt.Errorf("level %q of %q mixes text with a wildcard or brace", l, p)
		default:
			segs[i] = segment{kind: segLiteral, text: l}
		}
	}
	return pattern{segs: segs}, nil
}

func identifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// captures reports whether the pattern has a {name} level.
func (p pattern) captures(name string) bool {
	for _, s := range p.segs {
		if s.kind == segCapture && s.text == name {
			return true
		}
	}
	return false
}

// match reports whether topic matches and returns the device capture and
// the other captures as sorted tags. It runs for every message and every
// contract before the one that matches, so literal levels are compared in
// place and nothing is allocated unless a capture becomes a tag.
func (p pattern) match(topic string) (device string, tags []point.Tag, ok bool) {
	// [MQTT-4.7.2-1] wildcards at the first level do not match topics
	// starting with '$'.
	if strings.HasPrefix(topic, "$") && p.segs[0].kind != segLiteral {
		return "", nil, false
	}
	rest, more := topic, true
	for _, s := range p.segs {
		if s.kind == segHash {
			// "a/#" also matches "a" [MQTT-4.7.1-2].
			return device, sortTags(tags), true
		}
		if !more {
			return "", nil, false
		}
		if s.kind == segLiteral {
			if rest, more, ok = cutLiteral(rest, s.text); !ok {
				return "", nil, false
			}
			continue
		}
		var level string
		level, rest, more = strings.Cut(rest, "/")
		if s.kind == segCapture {
			if s.text == "device" {
				device = level
			} else {
				tags = append(tags, point.Tag{Key: s.text, Value: level})
			}
		}
	}
	if more {
		return "", nil, false
	}
	return device, sortTags(tags), true
}

// cutLiteral is strings.Cut(rest, "/") followed by a comparison of the
// level with lit, without searching for the '/'.
func cutLiteral(rest, lit string) (after string, more, ok bool) {
	n := len(lit)
	switch {
	case len(rest) < n || rest[:n] != lit:
		return "", false, false
	case len(rest) == n:
		return "", false, true
	case rest[n] == '/':
		return rest[n+1:], true, true
	}
	return "", false, false
}

func sortTags(tags []point.Tag) []point.Tag {
	if len(tags) > 1 {
		point.SortTags(tags)
	}
	return tags
}
