package rules

import "math"

// US EPA Air Quality Index breakpoints (40 CFR Part 58 Appendix G, with the
// 2024 PM2.5 revision). Concentrations are truncated to the precision EPA
// uses before the linear interpolation
//
//	I = (Ihi-Ilo)/(Chi-Clo) * (C-Clo) + Ilo
//
// and the result is rounded to the nearest integer. Units: pm25 and pm10 in
// µg/m³ (24-hour), co in ppm (8-hour), so2 and no2 in ppb (1-hour), o3 in ppm
// (8-hour; above 0.200 ppm the 1-hour rows 0.205-0.604 are used).
// Concentrations beyond the table give 500.

type breakpoint struct{ cLo, cHi, iLo, iHi float64 }

type pollutant struct {
	step float64 // truncation step
	bps  []breakpoint
}

var pollutants = map[string]pollutant{
	"pm25": {0.1, []breakpoint{
		{0, 9.0, 0, 50}, {9.1, 35.4, 51, 100}, {35.5, 55.4, 101, 150},
		{55.5, 125.4, 151, 200}, {125.5, 225.4, 201, 300}, {225.5, 325.4, 301, 500},
	}},
	"pm10": {1, []breakpoint{
		{0, 54, 0, 50}, {55, 154, 51, 100}, {155, 254, 101, 150},
		{255, 354, 151, 200}, {355, 424, 201, 300}, {425, 604, 301, 500},
	}},
	"co": {0.1, []breakpoint{
		{0, 4.4, 0, 50}, {4.5, 9.4, 51, 100}, {9.5, 12.4, 101, 150},
		{12.5, 15.4, 151, 200}, {15.5, 30.4, 201, 300}, {30.5, 50.4, 301, 500},
	}},
	"so2": {1, []breakpoint{
		{0, 35, 0, 50}, {36, 75, 51, 100}, {76, 185, 101, 150},
		{186, 304, 151, 200}, {305, 604, 201, 300}, {605, 1004, 301, 500},
	}},
	"no2": {1, []breakpoint{
		{0, 53, 0, 50}, {54, 100, 51, 100}, {101, 360, 101, 150},
		{361, 649, 151, 200}, {650, 1249, 201, 300}, {1250, 2049, 301, 500},
	}},
	"o3": {0.001, []breakpoint{
		{0, 0.054, 0, 50}, {0.055, 0.070, 51, 100}, {0.071, 0.085, 101, 150},
		{0.086, 0.105, 151, 200}, {0.106, 0.200, 201, 300},
		{0.201, 0.404, 201, 300}, {0.405, 0.604, 301, 500},
	}},
}

// pollutantAlias maps common metric spellings to the table names.
var pollutantAlias = map[string]string{"pm2_5": "pm25", "pm2.5": "pm25"}

// SubIndex returns the AQI sub-index of one pollutant ("pm25", "pm10", "co",
// "no2", "o3", "so2"), or NaN for an unknown pollutant or a negative or NaN
// concentration. Exposed to expressions as aqi_sub(name, concentration).
func SubIndex(name string, c float64) float64 {
	if a, ok := pollutantAlias[name]; ok {
		name = a
	}
	p, ok := pollutants[name]
	if !ok || math.IsNaN(c) || c < 0 {
		return math.NaN()
	}
	// Truncate, not round, as EPA specifies; the small epsilon absorbs
	// binary representation error (35.4 stored as 35.39999...).
	c = math.Floor(c/p.step+1e-9) * p.step
	for _, b := range p.bps {
		if c <= b.cHi+p.step/2 && c >= b.cLo-p.step/2 {
			if c < b.cLo {
				c = b.cLo
			}
			// The epsilon keeps exact halves (125.5) from rounding down after
			// floating-point error.
			return math.Round((b.iHi-b.iLo)/(b.cHi-b.cLo)*(c-b.cLo) + b.iLo + 1e-9)
		}
	}
	return 500
}

// AQI returns the air-quality index of a window: the maximum of the
// sub-indices of the pollutants present, each computed from the window
// average. Metrics that are not pollutants are ignored; with none present
// AQI is NaN. Exposed to window value expressions as aqi(agg).
func AQI(aggs map[string]Agg) float64 {
	best := math.NaN()
	for name, a := range aggs {
		if a.Count == 0 {
			continue
		}
		s := SubIndex(name, a.Avg)
		if !math.IsNaN(s) && (math.IsNaN(best) || s > best) {
			best = s
		}
	}
	return best
}
