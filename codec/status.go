package codec

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/edgevault/edgevault/point"
)

// statusDecoder reads device presence: a bare word (online, offline, true,
// false, 1, 0, on, off, connected, disconnected, any case) or a JSON object
// with an "online" boolean or a "state"/"status" word.
type statusDecoder struct{}

func (statusDecoder) decode(m Message, device string, _ []point.Tag) (Decoded, error) {
	if err := checkDevice(device); err != nil {
		return Decoded{}, err
	}
	online, err := parseStatus(m.Payload)
	if err != nil {
		return Decoded{}, err
	}
	return Decoded{Status: []Status{{Device: device, Online: online}}}, nil
}

func parseStatus(b []byte) (bool, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return false, fmt.Errorf("payload: invalid JSON: %w", err)
		}
		if v, ok := obj["online"].(bool); ok {
			return v, nil
		}
		for _, k := range []string{"state", "status"} {
			if s, ok := obj[k].(string); ok {
				if on, ok := parseOnOff(s); ok {
					return on, nil
				}
			}
		}
		return false, fmt.Errorf("payload: no \"online\" boolean or \"state\" word")
	}
	if len(b) > 1 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	if on, ok := parseOnOff(string(b)); ok {
		return on, nil
	}
	if len(b) > 32 {
		b = b[:32]
	}
	return false, fmt.Errorf("payload: %q is not a presence word (want online or offline)", b)
}
