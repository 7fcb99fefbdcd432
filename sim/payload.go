package sim

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Format names a payload format; see the package documentation.
type Format string

const (
	FormatJSON        Format = "json"
	FormatZigbee2MQTT Format = "zigbee2mqtt"
	FormatTasmota     Format = "tasmota"
	FormatLine        Format = "line"
	FormatBinary      Format = "binary"
	// FormatJSON10 is json with 10 metrics: the scale benchmark's 10 series
	// per device.
	FormatJSON10 Format = "json10"
)

// Formats lists every supported format.
var Formats = []Format{FormatJSON, FormatZigbee2MQTT, FormatTasmota, FormatLine, FormatBinary, FormatJSON10}

// PointsPerMessage is the number of readings one message of the format carries.
func (f Format) PointsPerMessage() int {
	switch f {
	case FormatTasmota, FormatLine:
		return 2
	case FormatJSON, FormatZigbee2MQTT, FormatBinary:
		return 5
	case FormatJSON10:
		return 10
	}
	return 0
}

// Valid reports whether f is a known format.
func (f Format) Valid() bool { return f.PointsPerMessage() > 0 }

// Topic is the MQTT topic a device publishes the format on.
func (f Format) Topic(id string) string {
	switch f {
	case FormatJSON, FormatJSON10:
		return "devices/" + id + "/telemetry"
	case FormatZigbee2MQTT:
		return "zigbee2mqtt/" + id
	case FormatTasmota:
		return "tele/" + id + "/SENSOR"
	case FormatLine:
		return "telegraf/" + id + "/env" // the Telegraf preset
	case FormatBinary:
		return "sim/" + id + "/bin"
	}
	return ""
}

// Sample is one device's readings at one instant. Floats have 2 decimals.
type Sample struct {
	Temperature float64 // °C
	Humidity    float64 // %
	Pressure    float64 // hPa
	CO2         int     // ppm
	Battery     int     // %
	LinkQuality int     // 0..255
	Motion      bool
}

// walker advances a device's readings as bounded random walks.
type walker struct {
	rng *rand.Rand
	s   Sample
}

func newWalker(seed uint64, index int) *walker {
	rng := rand.New(rand.NewPCG(seed, uint64(index)))
	w := &walker{rng: rng}
	w.s = Sample{
		Temperature: round2(18 + 6*rng.Float64()),
		Humidity:    round2(35 + 20*rng.Float64()),
		Pressure:    round2(1000 + 25*rng.Float64()),
		CO2:         400 + rng.IntN(200),
		Battery:     80 + rng.IntN(21),
		LinkQuality: 60 + rng.IntN(150),
	}
	return w
}

// next returns the following sample.
func (w *walker) next() Sample {
	r := w.rng
	w.s.Temperature = walk(r, w.s.Temperature, 0.05, -20, 50)
	w.s.Humidity = walk(r, w.s.Humidity, 0.1, 0, 100)
	w.s.Pressure = walk(r, w.s.Pressure, 0.05, 950, 1050)
	w.s.CO2 = int(walk(r, float64(w.s.CO2), 2, 350, 5000))
	w.s.LinkQuality = int(walk(r, float64(w.s.LinkQuality), 2, 0, 255))
	if r.IntN(1000) == 0 && w.s.Battery > 0 {
		w.s.Battery--
	}
	w.s.Motion = r.IntN(10) == 0
	return w.s
}

func walk(r *rand.Rand, v, step, lo, hi float64) float64 {
	v = round2(v + step*(2*r.Float64()-1))
	return math.Min(hi, math.Max(lo, v))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// Encode appends the payload of s in format f, stamped tsMS, to buf.
func (f Format) Encode(buf []byte, id string, tsMS int64, s Sample) ([]byte, error) {
	switch f {
	case FormatJSON:
		return appendJSON(buf, tsMS, s), nil
	case FormatJSON10:
		return appendJSON10(buf, tsMS, s), nil
	case FormatZigbee2MQTT:
		return appendZigbee2MQTT(buf, tsMS, s), nil
	case FormatTasmota:
		return appendTasmota(buf, tsMS, s), nil
	case FormatLine:
		return appendLine(buf, id, tsMS, s), nil
	case FormatBinary:
		return appendBinary(buf, s), nil
	}
	return buf, fmt.Errorf("encode: %w: %q", ErrFormat, string(f))
}

func appendJSON(buf []byte, tsMS int64, s Sample) []byte {
	buf = append(buf, `{"ts":`...)
	buf = strconv.AppendInt(buf, tsMS, 10)
	buf = appendField(buf, "temperature", s.Temperature)
	buf = appendField(buf, "humidity", s.Humidity)
	buf = appendField(buf, "pressure", s.Pressure)
	buf = appendIntField(buf, "co2", s.CO2)
	buf = appendIntField(buf, "battery", s.Battery)
	return append(buf, '}')
}

// appendJSON10 adds to json five readings derived from the sample, so the
// walks (and every other format's payloads) stay as they are.
func appendJSON10(buf []byte, tsMS int64, s Sample) []byte {
	buf = appendJSON(buf, tsMS, s)
	buf = buf[:len(buf)-1] // reopen the object
	buf = appendIntField(buf, "linkquality", s.LinkQuality)
	buf = append(buf, `,"motion":`...)
	buf = strconv.AppendBool(buf, s.Motion)
	buf = appendField(buf, "voltage", round2(2.4+0.006*float64(s.Battery)))
	buf = appendField(buf, "dew_point", round2(s.Temperature-(100-s.Humidity)/5))
	buf = appendIntField(buf, "rssi", s.LinkQuality/2-110)
	return append(buf, '}')
}

func appendZigbee2MQTT(buf []byte, tsMS int64, s Sample) []byte {
	buf = append(buf, `{"temperature":`...)
	buf = strconv.AppendFloat(buf, s.Temperature, 'f', 2, 64)
	buf = appendField(buf, "humidity", s.Humidity)
	buf = appendIntField(buf, "battery", s.Battery)
	buf = appendIntField(buf, "linkquality", s.LinkQuality)
	buf = append(buf, `,"occupancy":`...)
	buf = strconv.AppendBool(buf, s.Motion)
	buf = append(buf, `,"last_seen":`...)
	buf = strconv.AppendInt(buf, tsMS, 10)
	return append(buf, '}')
}

// appendTasmota writes what a Tasmota AM2301 sensor sends: one decimal,
// second-resolution local time (UTC here) without a zone.
func appendTasmota(buf []byte, tsMS int64, s Sample) []byte {
	buf = append(buf, `{"Time":"`...)
	buf = time.UnixMilli(tsMS).UTC().AppendFormat(buf, "2006-01-02T15:04:05")
	buf = append(buf, `","AM2301":{"Temperature":`...)
	buf = strconv.AppendFloat(buf, math.Round(s.Temperature*10)/10, 'f', 1, 64)
	buf = append(buf, `,"Humidity":`...)
	buf = strconv.AppendFloat(buf, math.Round(s.Humidity*10)/10, 'f', 1, 64)
	return append(buf, `},"TempUnit":"C"}`...)
}

func appendLine(buf []byte, id string, tsMS int64, s Sample) []byte {
	buf = append(buf, "env,device="...)
	buf = append(buf, id...)
	buf = append(buf, " temperature="...)
	buf = strconv.AppendFloat(buf, s.Temperature, 'f', 2, 64)
	buf = append(buf, ",humidity="...)
	buf = strconv.AppendFloat(buf, s.Humidity, 'f', 2, 64)
	buf = append(buf, ' ')
	return strconv.AppendInt(buf, tsMS*int64(time.Millisecond), 10)
}

func appendField(buf []byte, name string, v float64) []byte {
	buf = append(buf, `,"`...)
	buf = append(buf, name...)
	buf = append(buf, `":`...)
	return strconv.AppendFloat(buf, v, 'f', 2, 64)
}

func appendIntField(buf []byte, name string, v int) []byte {
	buf = append(buf, `,"`...)
	buf = append(buf, name...)
	buf = append(buf, `":`...)
	return strconv.AppendInt(buf, int64(v), 10)
}

func appendBinary(buf []byte, s Sample) []byte {
	var b [8]byte
	binary.BigEndian.PutUint16(b[0:], uint16(int16(math.Round(s.Temperature*100))))
	binary.BigEndian.PutUint16(b[2:], uint16(math.Round(s.Humidity*100)))
	b[4] = byte(s.Battery)
	if s.Motion {
		b[5] = 1
	}
	binary.BigEndian.PutUint16(b[6:], uint16(s.CO2))
	return append(buf, b[:]...)
}
