package batch

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// encoder is shared: EncodeAll is safe for concurrent use.
var encoder = mustEncoder()

func mustEncoder() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
	if err != nil {
		panic(err) // only bad options fail, and these are constants
	}
	return e
}

// decoders holds one decoder per size limit; a process uses one or two.
var decoders struct {
	mu sync.Mutex // guards m
	m  map[int]*zstd.Decoder
}

func decoderFor(limit int) (*zstd.Decoder, error) {
	decoders.mu.Lock()
	defer decoders.mu.Unlock()
	if d, ok := decoders.m[limit]; ok {
		return d, nil
	}
	d, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(uint64(limit)),
		zstd.WithDecoderMaxWindow(uint64(max(limit, zstd.MinWindowSize))), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	if decoders.m == nil {
		decoders.m = map[int]*zstd.Decoder{}
	}
	decoders.m[limit] = d
	return d, nil
}

// decompress inflates z, refusing to produce more than limit bytes.
func decompress(z []byte, limit int) ([]byte, error) {
	d, err := decoderFor(limit)
	if err != nil {
		return nil, err
	}
	raw, err := d.DecodeAll(z, getBuf())
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		return nil, fmt.Errorf("%w: payload inflates past %d bytes", ErrTooLarge, limit)
	case err != nil:
		return nil, fmt.Errorf("%w: zstd: %v", ErrBadBatch, err)
	case len(raw) > limit:
		return nil, fmt.Errorf("%w: payload inflates past %d bytes", ErrTooLarge, limit)
	}
	return raw, nil
}

// bufs recycles payload buffers between Seal and Open calls.
var bufs sync.Pool

func getBuf() []byte {
	if b, ok := bufs.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 64<<10)
}

func putBuf(b []byte) {
	if cap(b) > 16<<20 {
		return // don't pin a bomb-sized buffer
	}
	bufs.Put(&b)
}
