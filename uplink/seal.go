package uplink

import (
	"fmt"
	"net/http"
	"time"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/point"
)

// BatchKeys decodes the configured hex keys.
func (c Config) BatchKeys() (batch.Keys, error) {
	sign, data, err := c.keys()
	if err != nil {
		return batch.Keys{}, err
	}
	return batch.Keys{Sign: sign, Data: data}, nil
}

// BatchSealer is the production Sealer: batch.Seal with k.
func BatchSealer(k batch.Keys) Sealer {
	return func(h Header, readings []point.Reading, records [][]byte) ([]byte, error) {
		return batch.Seal(batch.Batch{Header: batch.Header(h), Readings: readings, Records: records}, k)
	}
}

// BatchSigner is the production Signer: batch.SignRequest with k.
func BatchSigner(edgeID string, k batch.Keys) Signer {
	return func(req *http.Request, body []byte, seq uint64, now time.Time) error {
		return batch.SignRequest(req, body, edgeID, seq, k, now)
	}
}

// withBatch fills a missing Sealer or Signer from the configured keys.
func (o *Options) withBatch(cfg Config) error {
	if o.Sealer != nil && o.Signer != nil {
		return nil
	}
	k, err := cfg.BatchKeys()
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if o.Sealer == nil {
		o.Sealer = BatchSealer(k)
	}
	if o.Signer == nil {
		o.Signer = BatchSigner(cfg.EdgeID, k)
	}
	return nil
}
