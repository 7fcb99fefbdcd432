package batch

import (
	"bytes"
	"encoding/json"
)

// Change is one change of an edge's metadata (registry, rules, alerts,
// commands, dead letters), the JSON record an edge sends in batches of
// those kinds: Op "put" or "delete", Key the full key in the edge's
// metadata (its prefix names the component), and for a put the stored
// value, inline when it is JSON, else base64 in ValueB64.
type Change struct {
	Op       string          `json:"op"`
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value,omitempty"`
	ValueB64 []byte          `json:"value_b64,omitempty"`
}

// Change operations.
const (
	OpPut    = "put"
	OpDelete = "delete"
)

// PutChange records that key now holds value (copied).
func PutChange(key string, value []byte) Change {
	c := Change{Op: OpPut, Key: key}
	c.SetValue(value)
	return c
}

// SetValue stores value (copied) inline when it is JSON, else as base64.
func (c *Change) SetValue(value []byte) {
	c.Value, c.ValueB64 = nil, nil
	if json.Valid(value) {
		c.Value = json.RawMessage(bytes.Clone(value))
	} else {
		c.ValueB64 = bytes.Clone(value)
	}
}

// Bytes is the value of a put, whichever way it travelled.
func (c Change) Bytes() []byte {
	if c.ValueB64 != nil {
		return c.ValueB64
	}
	return c.Value
}

// ParseChange decodes a record; ok is false for a record that is not a
// change (batches may carry other JSON records).
func ParseChange(rec []byte) (c Change, ok bool) {
	if json.Unmarshal(rec, &c) != nil || c.Key == "" || (c.Op != OpPut && c.Op != OpDelete) {
		return c, false
	}
	return c, true
}
