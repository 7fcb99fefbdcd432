package rules

import (
	"math"
	"testing"
)

func TestSubIndex(t *testing.T) {
	tests := []struct {
		name      string
		pollutant string
		conc      float64
		want      float64
	}{
		{"pm25 zero", "pm25", 0, 0},
		{"pm25 top of good", "pm25", 9.0, 50},
		{"pm25 truncated into good", "pm25", 9.05, 50},
		{"pm25 epa example", "pm25", 35.9, 102},
		{"pm25 alias", "pm2_5", 35.9, 102},
		{"pm25 very unhealthy", "pm25", 150, 225},
		{"pm25 beyond table", "pm25", 900, 500},
		{"pm10 moderate", "pm10", 160, 103},
		{"o3 exact half rounds up", "o3", 0.078, 126},
		{"o3 one-hour rows", "o3", 0.405, 301},
		{"co moderate", "co", 5.0, 56},
		{"no2", "no2", 120, 105},
		{"so2 good", "so2", 20, 29},
		{"so2 hazardous top", "so2", 1004, 500},
		{"negative", "pm25", -1, math.NaN()},
		{"unknown pollutant", "radon", 3, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SubIndex(tt.pollutant, tt.conc)
			if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("SubIndex(%q, %v) = %v, want %v", tt.pollutant, tt.conc, got, tt.want)
			}
		})
	}
}

func TestAQIMaxOfSubIndices(t *testing.T) {
	aggs := map[string]Agg{
		"pm25":        {Count: 2, Avg: 35},
		"o3":          {Count: 1, Avg: 0.075},
		"temperature": {Count: 1, Avg: 400},
		"pm10":        {Count: 0, Avg: 600}, // empty: ignored
	}
	if got := AQI(aggs); got != 115 {
		t.Errorf("AQI = %v, want 115", got)
	}
	if got := AQI(map[string]Agg{"temperature": {Count: 1, Avg: 1}}); !math.IsNaN(got) {
		t.Errorf("AQI without pollutants = %v, want NaN", got)
	}
}
