package point

import (
	"math"
	"strings"
	"testing"
)

func TestSeriesKeyRoundTrip(t *testing.T) {
	tags := []Tag{{"site", "home"}, {"floor", "1"}}
	SortTags(tags)
	key := SeriesKey("dev-1", "temperature", tags)
	dev, metric, got, err := ParseSeriesKey(key)
	if err != nil || dev != "dev-1" || metric != "temperature" || len(got) != 2 || got[0] != tags[0] || got[1] != tags[1] {
		t.Fatalf("ParseSeriesKey(%q) = %q %q %v %v", key, dev, metric, got, err)
	}
	if _, _, _, err := ParseSeriesKey("no-metric"); err == nil {
		t.Fatal("key without metric parsed")
	}
}

func TestValidate(t *testing.T) {
	ok := Reading{Device: "d", Metric: "m", Value: Float(1)}
	tests := []struct {
		name string
		edit func(r *Reading)
		want string
	}{
		{"valid", func(*Reading) {}, ""},
		{"empty device", func(r *Reading) { r.Device = "" }, "device: empty"},
		{"control character", func(r *Reading) { r.Metric = "a\x00b" }, "control character"},
		{"too long", func(r *Reading) { r.Metric = strings.Repeat("x", MaxNameLen+1) }, "longer than"},
		{"bad utf-8", func(r *Reading) { r.Device = "\xff" }, "UTF-8"},
		{"unsorted tags", func(r *Reading) { r.Tags = []Tag{{"b", "1"}, {"a", "2"}} }, "not sorted"},
		{"zero value", func(r *Reading) { r.Value = Value{} }, "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			err := r.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValueJSON(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Float(21.37), "21.37"}, {Float(math.NaN()), "null"}, {Int(-7), "-7"},
		{Bool(true), "true"}, {String(`say "hi"`), `"say \"hi\""`}, {Value{}, "null"},
	}
	for _, tt := range tests {
		b, err := tt.v.MarshalJSON()
		if err != nil || string(b) != tt.want {
			t.Errorf("%v: MarshalJSON = %s, %v; want %s", tt.v, b, err, tt.want)
		}
	}
	if f, ok := Int(3).AsFloat(); !ok || f != 3 {
		t.Errorf("Int(3).AsFloat() = %v, %v", f, ok)
	}
	if _, ok := String("x").AsFloat(); ok {
		t.Error("string converted to float")
	}
}
