package backup

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// KeySize is the length of a backup key: AES-256.
const KeySize = 32

// ParseKey accepts a key file's contents: 32 raw bytes, or 64 hex digits
// with optional surrounding white space.
func ParseKey(b []byte) ([]byte, error) {
	if len(b) == KeySize {
		return bytes.Clone(b), nil
	}
	t := bytes.TrimSpace(b)
	if len(t) != 2*KeySize {
		return nil, fmt.Errorf("%w: want %d raw bytes or %d hex digits, have %d bytes", ErrBadKey, KeySize, 2*KeySize, len(b))
	}
	k := make([]byte, KeySize)
	if _, err := hex.Decode(k, t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return k, nil
}

// ReadKeyFile reads and parses a key file.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// WriteNewKey writes a random key as 64 hex digits and a newline to path,
// readable by the owner only. It refuses to overwrite a file: losing the
// key loses every backup made with it.
func WriteNewKey(path string) error {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(k) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}
