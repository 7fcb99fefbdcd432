package alerts

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/rules"
)

const (
	recordVersion = 1
	flagAcked     = 1 << 0
	flagResolved  = 1 << 1
	maxTags       = 256
)

func recordKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{'r'}, id)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// encodeRecord writes the persisted form documented in doc.go.
func encodeRecord(a *Alert) []byte {
	var flags byte
	if !a.AcknowledgedAt.IsZero() {
		flags |= flagAcked
	}
	if !a.ResolvedAt.IsZero() {
		flags |= flagResolved
	}
	b := make([]byte, 0, 128+len(a.Message))
	b = append(b, recordVersion, flags)
	b = binary.AppendUvarint(b, a.ID)
	for _, s := range []string{a.Rule, a.Key, a.Device, a.Metric, string(a.Severity), string(a.State),
		a.Message, a.AcknowledgedBy, a.ResolvedBy} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(a.Tags)))
	for _, t := range a.Tags {
		b = appendString(appendString(b, t.Key), t.Value)
	}
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(a.Value))
	b = binary.AppendVarint(b, a.TriggeredAt.UnixMilli())
	if flags&flagAcked != 0 {
		b = binary.AppendVarint(b, a.AcknowledgedAt.UnixMilli())
	}
	if flags&flagResolved != 0 {
		b = binary.AppendVarint(b, a.ResolvedAt.UnixMilli())
	}
	return b
}

// reader decodes the record fields; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str(what string) string {
	n := r.uvarint(what)
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail(what)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) unixMilli(what string) time.Time {
	ms := r.varint(what)
	if r.err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// decodeRecord reads a record written by encodeRecord. It never panics on
// arbitrary bytes.
func decodeRecord(b []byte) (Alert, error) {
	if len(b) < 2 {
		return Alert{}, fmt.Errorf("%w: short record", ErrCorrupt)
	}
	if b[0] != recordVersion {
		return Alert{}, fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[0])
	}
	flags := b[1]
	r := &reader{b: b[2:]}
	var a Alert
	a.ID = r.uvarint("id")
	a.Rule, a.Key, a.Device, a.Metric = r.str("rule"), r.str("key"), r.str("device"), r.str("metric")
	a.Severity, a.State = rules.Severity(r.str("severity")), rules.AlertState(r.str("state"))
	a.Message, a.AcknowledgedBy, a.ResolvedBy = r.str("message"), r.str("ack_by"), r.str("resolved_by")
	a.Tags = r.tags()
	if r.err == nil && len(r.b) < 8 {
		r.fail("value")
	}
	if r.err == nil {
		a.Value = math.Float64frombits(binary.BigEndian.Uint64(r.b))
		r.b = r.b[8:]
	}
	a.TriggeredAt = r.unixMilli("triggered")
	if flags&flagAcked != 0 {
		a.AcknowledgedAt = r.unixMilli("acked")
	}
	if flags&flagResolved != 0 {
		a.ResolvedAt = r.unixMilli("resolved")
	}
	if r.err != nil {
		return Alert{}, r.err
	}
	if len(r.b) != 0 {
		return Alert{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	return a, nil
}

func (r *reader) tags() []point.Tag {
	n := r.uvarint("tag count")
	if r.err != nil || n == 0 {
		return nil
	}
	if n > maxTags || n > uint64(len(r.b)) {
		r.fail("tag count")
		return nil
	}
	tags := make([]point.Tag, 0, n)
	for range n {
		tags = append(tags, point.Tag{Key: r.str("tag key"), Value: r.str("tag value")})
	}
	return tags
}

// DecodeStored decodes an alert as the history stores it (the value of its
// key), for readers of a copy of the history such as the cloud.
func DecodeStored(b []byte) (Alert, error) { return decodeRecord(b) }
