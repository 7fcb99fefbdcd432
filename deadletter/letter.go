package deadletter

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Letter is one payload that could not be decoded or stored.
type Letter struct {
	ID        uint64
	Time      time.Time
	ClientID  string
	Topic     string
	Contract  string
	Reason    string
	Payload   []byte
	Truncated bool // Payload holds only the first MaxPayload bytes
	Size      int  // length of the original payload
}

// letterJSON is both the persisted form and the API shape.
type letterJSON struct {
	ID          uint64 `json:"id"`
	Time        string `json:"time"`
	ClientID    string `json:"client_id"`
	Topic       string `json:"topic"`
	Contract    string `json:"contract"`
	Reason      string `json:"reason"`
	Payload     []byte `json:"payload"` // base64
	PayloadText string `json:"payload_text,omitempty"`
	Truncated   bool   `json:"truncated"`
	Size        int    `json:"size"`
}

// timeFormat is RFC 3339 with nanoseconds kept, so the persisted time is exact.
const timeFormat = time.RFC3339Nano

// MarshalJSON writes the API shape: payload as base64, and payload_text too
// when the payload is valid UTF-8.
func (l Letter) MarshalJSON() ([]byte, error) {
	j := stored(l)
	if utf8.Valid(l.Payload) {
		j.PayloadText = string(l.Payload)
	}
	return json.Marshal(j)
}

func stored(l Letter) letterJSON {
	return letterJSON{ID: l.ID, Time: l.Time.UTC().Format(timeFormat), ClientID: l.ClientID, Topic: l.Topic,
		Contract: l.Contract, Reason: l.Reason, Payload: l.Payload, Truncated: l.Truncated, Size: l.Size}
}

func decode(b []byte) (Letter, error) {
	var j letterJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Letter{}, fmt.Errorf("decode dead letter: %w", err)
	}
	t, err := time.Parse(timeFormat, j.Time)
	if err != nil {
		return Letter{}, fmt.Errorf("decode dead letter time: %w", err)
	}
	return Letter{ID: j.ID, Time: t, ClientID: j.ClientID, Topic: j.Topic, Contract: j.Contract,
		Reason: j.Reason, Payload: j.Payload, Truncated: j.Truncated, Size: j.Size}, nil
}
