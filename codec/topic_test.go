package codec

import (
	"testing"
)

func TestTopicMatch(t *testing.T) {
	tests := []struct {
		name, pattern, topic string
		ok                   bool
		device, tags         string
	}{
		{"capture device", "sensors/{device}/data", "sensors/d1/data", true, "d1", ""},
		{"literal mismatch", "sensors/{device}/data", "sensors/d1/state", false, "", ""},
		{"too short", "sensors/{device}/data", "sensors/d1", false, "", ""},
		{"too long", "sensors/{device}/data", "sensors/d1/data/x", false, "", ""},
		{"plus", "+/{device}", "a/b", true, "b", ""},
		{"hash many", "a/{device}/#", "a/d/x/y", true, "d", ""},
		{"hash matches parent", "a/{device}/#", "a/d", true, "d", ""},
		{"hash alone", "#", "x/y", true, "", ""},
		{"other captures are tags", "{site}/{device}/{room}", "s1/d/kitchen", true, "d", "room=kitchen,site=s1"},
		{"empty level", "a/{device}/b", "a//b", true, "", ""},
		{"dollar topics skip wildcards", "#", "$SYS/x", false, "", ""},
		{"dollar topics skip captures", "{device}/x", "$SYS/x", false, "", ""},
		{"dollar literal", "$SYS/{device}", "$SYS/x", true, "x", ""},
		{"literal is a prefix of the level", "sensors/{device}/data", "sensorsX/d1/data", false, "", ""},
		{"level is a prefix of the literal", "sensors/{device}/data", "sensor/d1/data", false, "", ""},
		{"trailing slash", "sensors/{device}/data", "sensors/d1/data/", false, "", ""},
		{"empty literal levels", "a//{device}", "a//d", true, "d", ""},
		{"empty topic", "a", "", false, "", ""},
		{"empty pattern level, empty topic", "+", "", true, "", ""},
		{"literal then hash", "a/b/#", "a/b", true, "", ""},
		{"literal then hash, shorter", "a/b/#", "a", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := compilePattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			dev, tags, ok := p.match(tt.topic)
			var ts string
			for i, tg := range tags {
				if i > 0 {
					ts += ","
				}
				ts += tg.Key + "=" + tg.Value
			}
			if ok != tt.ok || dev != tt.device || ts != tt.tags {
				t.Errorf("match(%q) = %q %q %v, want %q %q %v", tt.topic, dev, ts, ok, tt.device, tt.tags, tt.ok)
			}
		})
	}
}
