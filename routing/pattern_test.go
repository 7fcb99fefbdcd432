package routing

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		name, pat, s string
		want         bool
	}{
		{"empty matches all", "", "anything", true},
		{"star matches empty", "*", "", true},
		{"literal", "power", "power", true},
		{"literal mismatch", "power", "powers", false},
		{"prefix", "temp*", "temperature", true},
		{"prefix mismatch", "temp*", "attemp", false},
		{"suffix", "*_alarm", "smoke_alarm", true},
		{"suffix mismatch", "*_alarm", "alarm_smoke", false},
		{"infix", "*alarm*", "water_alarm_state", true},
		{"infix mismatch", "*alarm*", "alert", false},
		{"question one char", "sensor-?", "sensor-1", true},
		{"question needs a char", "sensor-?", "sensor-", false},
		{"question multibyte rune", "t?mp", "tämp", true},
		{"general star middle", "a*b*c", "aXXbYYc", true},
		{"general backtrack", "a*bc", "abcbc", true},
		{"general fails", "a*b*c", "aXXbYY", false},
		{"general star then question", "*?x", "x", false},
		{"double star", "**", "abc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := compileGlob(tt.pat)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.match(tt.s); got != tt.want {
				t.Errorf("glob %q match %q = %v, want %v", tt.pat, tt.s, got, tt.want)
			}
		})
	}
}

func TestTopicFilter(t *testing.T) {
	tests := []struct {
		name, filter, topic string
		want                bool
	}{
		{"empty matches all", "", "a/b", true},
		{"exact", "zigbee2mqtt/lamp", "zigbee2mqtt/lamp", true},
		{"exact shorter topic", "a/b", "a", false},
		{"exact longer topic", "a/b", "a/b/c", false},
		{"plus one level", "home/+/temp", "home/kitchen/temp", true},
		{"plus not two levels", "home/+/temp", "home/a/b/temp", false},
		{"plus matches empty level", "home/+/temp", "home//temp", true},
		{"hash rest", "zigbee2mqtt/#", "zigbee2mqtt/lamp/set", true},
		{"hash parent level", "zigbee2mqtt/#", "zigbee2mqtt", true},
		{"hash other root", "zigbee2mqtt/#", "tasmota/x", false},
		{"hash alone", "#", "a/b/c", true},
		{"dollar hidden from hash", "#", "$SYS/broker", false},
		{"dollar hidden from plus", "+/broker", "$SYS/broker", false},
		{"dollar literal", "$SYS/#", "$SYS/broker", true},
		{"trailing plus", "a/+", "a/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := compileTopic(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.match(tt.topic); got != tt.want {
				t.Errorf("filter %q match %q = %v, want %v", tt.filter, tt.topic, got, tt.want)
			}
		})
	}
}

func TestTopicFilterInvalid(t *testing.T) {
	for _, f := range []string{"a/#/b", "a#", "a/b+", "+a/b", "a/\x00"} {
		if _, err := compileTopic(f); err == nil {
			t.Errorf("compileTopic(%q) = nil error", f)
		}
	}
}

// globRegexp is the reference the fuzzer checks the matcher against.
func globRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

func FuzzGlob(f *testing.F) {
	f.Add("a*b?c", "aXXbYc")
	f.Add("*alarm*", "smoke_alarm_state")
	f.Add("temp*", "temperature")
	f.Add("?*?", "ab")
	f.Add("*_x", "é_x")
	f.Fuzz(func(t *testing.T, pat, s string) {
		if !utf8.ValidString(pat) || !utf8.ValidString(s) || len(pat) > 64 || len(s) > 256 {
			return
		}
		g, err := compileGlob(pat)
		if err != nil {
			t.Fatal(err)
		}
		ref := pat
		if ref == "" {
			ref = "*" // an empty pattern matches everything, by design
		}
		if got, want := g.match(s), globRegexp(ref).MatchString(s); got != want {
			t.Fatalf("glob %q match %q = %v, regexp says %v", pat, s, got, want)
		}
	})
}
