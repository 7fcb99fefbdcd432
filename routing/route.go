package routing

import (
	"time"

	"github.com/edgevault/edgevault/point"
)

// batch is the per-call state of Route: the message topic and caches of the
// device type lookup and the clock, both called at most once per need.
type batch struct {
	r          *Router
	topic      string
	deviceType func(device string) string
	typeOf     string // device whose type is cached
	typ        string
	typed      bool
	now        time.Time
	nowSet     bool
	d          Decision
	n          int
}

// verdict is what the rules decided so far for one reading: the first rule
// to decide storage or priority wins; forwards accumulate.
type verdict struct {
	stored, prioritized bool
}

// Route evaluates the rules, in order, against each reading of one message
// published on topic. deviceType names a device's type for match.device_type
// (nil when unknown: such rules then see an empty type). Route does not
// keep rs; forwarded readings are copied into the Decision.
func (r *Router) Route(topic string, deviceType func(device string) string, rs []point.Reading) Decision {
	if len(r.rules) == 0 {
		return Decision{}
	}
	b := batch{r: r, topic: topic, deviceType: deviceType, n: len(rs)}
	for i := range rs {
		b.route(i, &rs[i])
	}
	return b.d
}

// route merges the rules indexed under the reading's metric with the
// general ones, in evaluation order, and applies those that match.
func (b *batch) route(i int, rd *point.Reading) {
	var exact []int32
	if len(b.r.byMetric) > 0 {
		exact = b.r.byMetric[rd.Metric]
	}
	gen := b.r.general
	var v verdict
	for len(exact) > 0 || len(gen) > 0 {
		var ru *rule
		if len(gen) == 0 || (len(exact) > 0 && exact[0] < gen[0]) {
			ru, exact = b.r.rules[exact[0]], exact[1:]
		} else {
			ru, gen = b.r.rules[gen[0]], gen[1:]
			if !ru.metric.match(rd.Metric) {
				continue
			}
		}
		if !b.matches(ru, rd) {
			continue
		}
		b.apply(ru, i, rd, &v)
		if !ru.cont {
			return
		}
	}
}

func (b *batch) matches(ru *rule, rd *point.Reading) bool {
	if !ru.device.match(rd.Device) || !ru.topic.match(b.topic) {
		return false
	}
	if ru.deviceType.kind == globAny {
		return true
	}
	return ru.deviceType.match(b.typeOfDevice(rd.Device))
}

func (b *batch) typeOfDevice(device string) string {
	if b.deviceType == nil {
		return ""
	}
	if !b.typed || b.typeOf != device {
		b.typeOf, b.typ, b.typed = device, b.deviceType(device), true
	}
	return b.typ
}

func (b *batch) clock() time.Time {
	if !b.nowSet {
		b.now, b.nowSet = b.r.now(), true
	}
	return b.now
}

func (b *batch) apply(ru *rule, i int, rd *point.Reading, v *verdict) {
	st := ru.stats
	inc(&st.matched, st.pMatched)
	switch ru.action {
	case ActionStore:
		v.stored = v.stored || !ru.keepOnly
	case ActionDrop:
		if !v.stored {
			v.stored = true
			b.d.drop(i, b.n)
			inc(&st.dropped, st.pDropped)
		}
	case ActionSample:
		if !v.stored {
			v.stored = true
			b.sample(ru, i, rd)
		}
	case ActionForward:
		b.forward(ru, i, rd)
	}
	if ru.setUplink && !v.prioritized {
		v.prioritized = true
		if ru.uplink != PriorityNormal {
			b.d.setPriority(i, b.n, ru.uplink)
		}
	}
}

func (b *batch) sample(ru *rule, i int, rd *point.Reading) {
	st := ru.stats
	kept, overflow := ru.sampler.keep(rd, b.clock)
	switch {
	case overflow:
		if st.overflow.Load() == 0 {
			b.r.log.Warn("routing sampler full, storing unsampled", "rule", ru.name, "max_series", ru.sampler.max)
		}
		inc(&st.overflow, st.pOverflow)
	case !kept:
		b.d.drop(i, b.n)
		inc(&st.sampledOut, st.pSampledOut)
	}
}

func (b *batch) forward(ru *rule, i int, rd *point.Reading) {
	st := ru.stats
	if ru.fwdTopic != nil {
		t := render(ru.fwdTopic, b.topic, rd.Device, rd.Metric)
		if b.d.addForward(ru.name, t, "", i, rd) {
			inc(&st.forwarded, st.pForwarded)
		}
	}
	if ru.fwdURL != "" && b.d.addForward(ru.name, "", ru.fwdURL, i, rd) {
		inc(&st.forwarded, st.pForwarded)
	}
}
