package uplink

import (
	"encoding/binary"
	"fmt"
)

const recordVersion = 1

// meta is what the outbox keeps in memory per queued batch; the body stays
// on disk until it is sent.
type meta struct {
	Seq      uint64
	Created  int64 // Unix ms
	Priority Priority
	Kind     string
	Count    int
	Oldest   int64 // Unix ms of the oldest reading; 0 if none
	Reason   string
	Size     int64 // bytes of the stored record
}

// record is one stored batch.
type record struct {
	meta
	Body []byte
}

func (r *record) encode() []byte {
	b := make([]byte, 0, 48+len(r.Kind)+len(r.Reason)+len(r.Body))
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendVarint(b, r.Created)
	b = append(b, byte(r.Priority))
	b = binary.AppendUvarint(b, uint64(len(r.Kind)))
	b = append(b, r.Kind...)
	b = binary.AppendUvarint(b, uint64(r.Count))
	b = binary.AppendVarint(b, r.Oldest)
	b = binary.AppendUvarint(b, uint64(len(r.Reason)))
	b = append(b, r.Reason...)
	return append(b, r.Body...)
}

// recReader walks a record, remembering the first error.
type recReader struct {
	b   []byte
	err error
}

func (d *recReader) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad %s", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recReader) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad %s", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recReader) bytes(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("%s longer than record", what)
	}
	if d.err != nil {
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// decodeRecord parses a stored record. The body aliases b.
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) < 1 || b[0] != recordVersion {
		return r, fmt.Errorf("decode record: %w", ErrCorrupt)
	}
	d := recReader{b: b[1:]}
	r.Seq = d.uvarint("seq")
	r.Created = d.varint("created")
	if d.err == nil && len(d.b) == 0 {
		d.err = fmt.Errorf("bad priority")
	}
	if d.err == nil {
		r.Priority = Priority(d.b[0])
		d.b = d.b[1:]
		if r.Priority > PriorityHigh {
			d.err = fmt.Errorf("bad priority %d", r.Priority)
		}
	}
	r.Kind = string(d.bytes("kind"))
	count := d.uvarint("count")
	if d.err == nil && count > 1<<31 {
		d.err = fmt.Errorf("count %d too large", count)
	}
	r.Count = int(count)
	r.Oldest = d.varint("oldest")
	r.Reason = string(d.bytes("reason"))
	if d.err != nil {
		return record{}, fmt.Errorf("decode record: %v: %w", d.err, ErrCorrupt)
	}
	r.Body = d.b
	r.Size = int64(len(b))
	return r, nil
}
