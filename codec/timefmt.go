package codec

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Time units a timestamp field may declare.
const (
	UnitAuto    = "auto" // numbers by magnitude, strings as RFC 3339
	UnitS       = "s"
	UnitMS      = "ms"
	UnitUS      = "us"
	UnitNS      = "ns"
	UnitRFC3339 = "rfc3339"
)

func validTimeUnit(u string) bool {
	switch u {
	case "", UnitAuto, UnitS, UnitMS, UnitUS, UnitNS, UnitRFC3339:
		return true
	}
	return false
}

// autoUnit guesses the unit of an epoch number by magnitude: below 1e11 it
// is seconds (up to year 5138), below 1e14 milliseconds, below 1e17
// microseconds, otherwise nanoseconds.
func autoUnit(abs float64) string {
	switch {
	case abs < 1e11:
		return UnitS
	case abs < 1e14:
		return UnitMS
	case abs < 1e17:
		return UnitUS
	}
	return UnitNS
}

// epochToMS converts an epoch integer in unit to Unix milliseconds.
func epochToMS(n int64, unit string) (int64, error) {
	switch unit {
	case UnitS:
		if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
			return 0, fmt.Errorf("%d seconds is out of range", n)
		}
		return n * 1000, nil
	case UnitMS:
		return n, nil
	case UnitUS:
		return n / 1000, nil
	case UnitNS:
		return n / 1e6, nil
	}
	return 0, fmt.Errorf("unit %q does not apply to a number", unit)
}

// floatToMS converts a fractional epoch number in unit to Unix milliseconds.
func floatToMS(f float64, unit string) (int64, error) {
	var ms float64
	switch unit {
	case UnitS:
		ms = f * 1000
	case UnitMS:
		ms = f
	case UnitUS:
		ms = f / 1000
	case UnitNS:
		ms = f / 1e6
	default:
		return 0, fmt.Errorf("unit %q does not apply to a number", unit)
	}
	if math.IsNaN(ms) || ms >= math.MaxInt64 || ms <= math.MinInt64 {
		return 0, fmt.Errorf("%v is out of range", f)
	}
	return int64(math.Round(ms)), nil
}

// parseTimeValue converts a JSON timestamp (number or string) to Unix ms.
func parseTimeValue(v any, unit string) (int64, error) {
	if unit == "" {
		unit = UnitAuto
	}
	switch x := v.(type) {
	case json.Number:
		return parseEpoch(string(x), unit)
	case string:
		return parseTimeString(x, unit)
	}
	return 0, fmt.Errorf("want a number or a string, got %s", jsonKind(v))
}

// parseTimeString converts a JSON string timestamp to Unix ms; unit is
// not empty.
func parseTimeString(x, unit string) (int64, error) {
	if unit != UnitRFC3339 && unit != UnitAuto {
		return parseEpoch(x, unit)
	}
	if unit == UnitAuto && x != "" && (x[0] >= '0' && x[0] <= '9' || x[0] == '-') && !strings.ContainsAny(x, "T:") {
		return parseEpoch(x, unit)
	}
	return parseRFC3339(x)
}

func parseEpoch(s, unit string) (int64, error) {
	if unit == UnitRFC3339 {
		return 0, fmt.Errorf("want an RFC 3339 string, got number %s", s)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if unit == UnitAuto {
			unit = autoUnit(math.Abs(float64(n)))
		}
		return epochToMS(n, unit)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if unit == UnitAuto {
		unit = autoUnit(math.Abs(f))
	}
	return floatToMS(f, unit)
}

// zoneless layouts are accepted as UTC: Tasmota and many gateways send
// local time without an offset.
var zoneless = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

func parseRFC3339(s string) (int64, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	for _, l := range zoneless {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("%q is not an RFC 3339 time", s)
}
