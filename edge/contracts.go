package edge

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/edgevault/edgevault/codec"
)

// contracts adapts the active contract set to the REST API.
type contracts struct{ set *codec.Set }

func (c contracts) Contracts() any { return c.set.Contracts() }

// Validate compiles a contract posted as JSON without activating it.
func (c contracts) Validate(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var ct codec.Contract
	if err := dec.Decode(&ct); err != nil {
		return fmt.Errorf("decode contract: %w", err)
	}
	return codec.Validate(ct)
}
