package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Sentinel errors of query answer checks.
var (
	ErrBadAnswer  = errors.New("bad query answer")
	ErrWrongCount = errors.New("wrong number of points")
)

// storageMetrics are the two metrics (fields) of every storage device, with
// the value, in hundredths, their walks start at.
var storageMetrics = []struct {
	name  string
	start int64
}{{"temperature", 2100}, {"humidity", 4500}}

// storageDevice is the id of device i of the storage bench.
func storageDevice(i int) string { return fmt.Sprintf("stor-%04d", i) }

// StorageBatches builds the storage bench's data as line protocol in
// batches of at most lines lines, precision s: devices devices, each with a
// temperature-like and a humidity-like 2-decimal random walk starting at
// 21.00 and 45.00, one line (two points) per device and second for seconds
// seconds from startS. Each step adds a random multiple of 0.01 within
// +-0.05; the walks are seeded by seed and the device index, so the data is
// the same for every target. Lines go second by second, all devices per
// second, as a collector flushing its buffer would send them:
//
//	env,device=stor-0003 temperature=21.02,humidity=44.97 1795737600
func StorageBatches(devices, seconds, lines int, startS int64, seed uint64) [][]byte {
	g := newWalkGen(devices, seconds, startS, seed, storageDevice)
	var out [][]byte
	for {
		buf, n := g.next(make([]byte, 0, lines*64), lines, nil)
		if n == 0 {
			return out
		}
		out = append(out, buf)
	}
}

// walkGen produces the lines of StorageBatches one batch at a time, so a
// large load (bench drain) need not be held in memory.
type walkGen struct {
	devices, seconds int
	startS           int64
	name             func(dev int) string
	walks            [][]int64 // hundredths, per device and metric
	rngs             []*rand.Rand
	s, d             int // the next line: second s of device d
}

func newWalkGen(devices, seconds int, startS int64, seed uint64, name func(int) string) *walkGen {
	g := &walkGen{devices: devices, seconds: seconds, startS: startS, name: name,
		walks: make([][]int64, devices), rngs: make([]*rand.Rand, devices)}
	for d := range g.walks {
		g.rngs[d] = rand.New(rand.NewPCG(seed, uint64(d)))
		for _, m := range storageMetrics {
			g.walks[d] = append(g.walks[d], m.start)
		}
	}
	return g
}

// next appends up to lines lines to buf and returns it with the number of
// lines; 0 when every second is done. each, if not nil, sees every line's
// device, second and values (hundredths, in storageMetrics order).
func (g *walkGen) next(buf []byte, lines int, each func(dev int, sec int64, hundredths []int64)) ([]byte, int) {
	n := 0
	for ; n < lines && g.s < g.seconds; n++ {
		w := g.walks[g.d]
		if g.s > 0 {
			for m := range w {
				w[m] += int64(g.rngs[g.d].IntN(11)) - 5
			}
		}
		sec := g.startS + int64(g.s)
		buf = appendStorageLine(buf, g.name(g.d), w, sec)
		if each != nil {
			each(g.d, sec, w)
		}
		if g.d++; g.d == g.devices {
			g.d, g.s = 0, g.s+1
		}
	}
	return buf, n
}

func appendStorageLine(buf []byte, device string, hundredths []int64, sec int64) []byte {
	buf = append(buf, "env,device="...)
	buf = append(buf, device...)
	for m, v := range hundredths {
		if m == 0 {
			buf = append(buf, ' ')
		} else {
			buf = append(buf, ',')
		}
		buf = append(buf, storageMetrics[m].name...)
		buf = append(buf, '=')
		buf = appendHundredths(buf, v)
	}
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, sec, 10)
	return append(buf, '\n')
}

// appendHundredths writes v/100 with exactly two decimals, without going
// through a float.
func appendHundredths(buf []byte, v int64) []byte {
	if v < 0 {
		buf, v = append(buf, '-'), -v
	}
	buf = strconv.AppendInt(buf, v/100, 10)
	buf = append(buf, '.', byte('0'+v%100/10), byte('0'+v%10))
	return buf
}

// edgePage is what the checks need of a GET /api/v1/query answer.
type edgePage struct {
	Source string          `json:"source"`
	Points [][2]float64    `json:"points"`
	Next   json.RawMessage `json:"next"`
}

// parseEdgePage checks one page of an edge query answer: every point a
// [t, v] pair, timestamps strictly increasing, within [from, to). It
// returns the number of points, the source the node answered from and the
// next page's path ("" when done; the API gives it as a path and query).
func parseEdgePage(body []byte, from, to int64) (n int, source, next string, err error) {
	var p edgePage
	if err := json.Unmarshal(body, &p); err != nil {
		return 0, "", "", fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}
	prev := int64(from) - 1
	for _, pt := range p.Points {
		t := int64(pt[0])
		if t <= prev || t >= to {
			return 0, "", "", fmt.Errorf("%w: timestamp %d after %d or outside [%d, %d)", ErrBadAnswer, t, prev, from, to)
		}
		prev = t
	}
	if len(p.Next) > 0 && !bytes.Equal(p.Next, []byte("null")) {
		if err := json.Unmarshal(p.Next, &next); err != nil || next == "" {
			return 0, "", "", fmt.Errorf("%w: next is %s, want a path or null", ErrBadAnswer, p.Next)
		}
	}
	return len(p.Points), p.Source, next, nil
}

// influxAnswer is what the checks need of an InfluxDB /query answer.
type influxAnswer struct {
	Results []struct {
		Error  string `json:"error"`
		Series []struct {
			Values [][]any `json:"values"`
		} `json:"series"`
		Partial bool `json:"partial"`
	} `json:"results"`
}

// parseInfluxRows counts the rows of an InfluxDB /query answer whose value
// column is not null (an empty GROUP BY time bucket is null); a partial
// (truncated) answer or an error is a failure.
func parseInfluxRows(body []byte) (int, error) {
	var a influxAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}
	n := 0
	for _, r := range a.Results {
		switch {
		case r.Error != "":
			return 0, fmt.Errorf("%w: %s", ErrBadAnswer, r.Error)
		case r.Partial:
			return 0, fmt.Errorf("%w: partial answer (row limit?)", ErrBadAnswer)
		}
		for _, s := range r.Series {
			for _, row := range s.Values {
				if len(row) >= 2 && row[1] != nil {
					n++
				}
			}
		}
	}
	return n, nil
}

// checkCount fails unless got is want.
func checkCount(what string, got, want int) error {
	if got != want {
		return fmt.Errorf("%s: %w: got %d, want %d", what, ErrWrongCount, got, want)
	}
	return nil
}
