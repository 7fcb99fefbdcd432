package backup

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Encrypted file layout (doc.go).
const (
	encMagic   = "EVBK"
	encVersion = 1
	saltSize   = 32
	checkSize  = 16
	headerSize = len(encMagic) + 1 + 4 + saltSize + checkSize
	tagSize    = 16

	// DefaultChunkSize is the plaintext bytes sealed per chunk.
	DefaultChunkSize = 64 << 10
	minChunkSize     = 16
	maxChunkSize     = 16 << 20
	keyInfo          = "edgevault backup v1 aes-256-gcm"
)

// header is the plaintext start of an encrypted file; its bytes are the
// associated data of every chunk.
type header struct {
	chunkSize int
	salt      [saltSize]byte
	check     [checkSize]byte
}

func (h *header) marshal() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, encMagic...)
	b = append(b, encVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(h.chunkSize))
	b = append(b, h.salt[:]...)
	return append(b, h.check[:]...)
}

func parseHeader(b []byte) (header, error) {
	var h header
	if string(b[:len(encMagic)]) != encMagic {
		return h, fmt.Errorf("%w: bad magic", ErrNotBackup)
	}
	b = b[len(encMagic):]
	if b[0] != encVersion {
		return h, fmt.Errorf("%w: encryption version %d (this build reads %d)", ErrVersion, b[0], encVersion)
	}
	cs := binary.BigEndian.Uint32(b[1:])
	if cs < minChunkSize || cs > maxChunkSize {
		return h, fmt.Errorf("%w: chunk size %d out of range", ErrCorrupt, cs)
	}
	h.chunkSize = int(cs)
	copy(h.salt[:], b[5:])
	copy(h.check[:], b[5+saltSize:])
	return h, nil
}

// deriveKeys derives the file key and the key check value from the master
// key and the file's salt.
func deriveKeys(key []byte, salt []byte) (cipher.AEAD, [checkSize]byte, error) {
	var check [checkSize]byte
	if len(key) != KeySize {
		return nil, check, fmt.Errorf("%w: %d bytes, want %d", ErrBadKey, len(key), KeySize)
	}
	k, err := hkdf.Key(sha256.New, key, salt, keyInfo, 32+checkSize)
	if err != nil {
		return nil, check, fmt.Errorf("derive key: %w", err)
	}
	block, err := aes.NewCipher(k[:32])
	if err != nil {
		return nil, check, fmt.Errorf("derive key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, check, fmt.Errorf("derive key: %w", err)
	}
	copy(check[:], k[32:])
	return aead, check, nil
}

// chunkNonce is 3 zero bytes, the chunk counter (8 bytes, big endian) and
// the final flag (1 for the last chunk, else 0).
func chunkNonce(n uint64, final bool) []byte {
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint64(nonce[3:], n)
	if final {
		nonce[11] = 1
	}
	return nonce
}

// encrypter seals what is written to it in chunks; Close seals the final one.
type encrypter struct {
	w     io.Writer
	aead  cipher.AEAD
	ad    []byte // the header
	buf   []byte // plaintext of the chunk being filled
	out   []byte
	n     uint64 // chunks sealed
	err   error  // sticky
	chunk int
}

// NewEncrypter writes the header of an encrypted file to w and returns a
// writer that encrypts into w with chunks of chunkSize plaintext bytes (0
// means DefaultChunkSize). Close must be called: it writes the final chunk,
// without which the file reads as truncated.
func NewEncrypter(w io.Writer, key []byte, chunkSize int) (io.WriteCloser, error) {
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	if chunkSize < minChunkSize || chunkSize > maxChunkSize {
		return nil, fmt.Errorf("encrypt: chunk size %d out of range [%d, %d]", chunkSize, minChunkSize, maxChunkSize)
	}
	h := header{chunkSize: chunkSize}
	if _, err := rand.Read(h.salt[:]); err != nil {
		return nil, fmt.Errorf("encrypt: salt: %w", err)
	}
	aead, check, err := deriveKeys(key, h.salt[:])
	if err != nil {
		return nil, err
	}
	h.check = check
	e := &encrypter{w: w, aead: aead, ad: h.marshal(), chunk: chunkSize}
	e.buf = make([]byte, 0, chunkSize)
	e.out = make([]byte, 0, chunkSize+tagSize)
	if _, err := w.Write(e.ad); err != nil {
		return nil, fmt.Errorf("encrypt: write header: %w", err)
	}
	return e, nil
}

func (e *encrypter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && e.err == nil {
		// A full chunk is sealed only once more data comes: the last chunk
		// must carry the final flag, and only Close knows which one it is.
		if len(e.buf) == e.chunk {
			e.seal(false)
			continue
		}
		k := copy(e.buf[len(e.buf):e.chunk], p)
		e.buf = e.buf[:len(e.buf)+k]
		p, written = p[k:], written+k
	}
	return written, e.err
}

func (e *encrypter) seal(final bool) {
	e.out = e.aead.Seal(e.out[:0], chunkNonce(e.n, final), e.buf, e.ad)
	e.n++
	e.buf = e.buf[:0]
	if _, err := e.w.Write(e.out); err != nil {
		e.err = fmt.Errorf("encrypt: %w", err)
	}
}

// Close seals the final chunk. It does not close the underlying writer.
func (e *encrypter) Close() error {
	if e.err == nil {
		e.seal(true)
		if e.err == nil {
			e.err = errClosed
			return nil
		}
	}
	if errors.Is(e.err, errClosed) {
		return nil
	}
	return e.err
}

var errClosed = errors.New("encrypter closed")

// decrypter opens the chunks of an encrypted file in order.
type decrypter struct {
	r     *bufio.Reader
	aead  cipher.AEAD
	ad    []byte
	chunk int
	in    []byte // one sealed chunk
	out   []byte // its plaintext, apart from in: a failed Open clears its output and explain retries in
	plain []byte // opened bytes not yet returned
	n     uint64 // chunks opened
	done  bool   // the final chunk was opened
	err   error  // sticky
}

// NewDecrypter reads the header of an encrypted file from r, checks the
// key against it and returns a reader of the plaintext. Reads fail with
// ErrCorrupt or ErrTruncated as soon as a chunk does not authenticate or
// the file ends before its final chunk; io.EOF comes only after the final
// chunk authenticated and nothing follows it.
func NewDecrypter(r io.Reader, key []byte) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	hb := make([]byte, headerSize)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrTruncated, err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	aead, check, err := deriveKeys(key, h.salt[:])
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check[:], h.check[:]) != 1 {
		return nil, ErrWrongKey
	}
	return &decrypter{r: br, aead: aead, ad: hb, chunk: h.chunkSize,
		in: make([]byte, h.chunkSize+tagSize), out: make([]byte, 0, h.chunkSize)}, nil
}

func (d *decrypter) Read(p []byte) (int, error) {
	for len(d.plain) == 0 && d.err == nil {
		if d.done {
			return 0, io.EOF
		}
		d.err = d.next()
	}
	if len(d.plain) == 0 {
		return 0, d.err
	}
	k := copy(p, d.plain)
	d.plain = d.plain[k:]
	return k, nil
}

// next reads and opens one chunk. A chunk is the final one when the file
// ends after it; it must then have been sealed with the final flag.
func (d *decrypter) next() error {
	m, err := io.ReadFull(d.r, d.in)
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: ends after chunk %d without the final chunk", ErrTruncated, d.n)
	case errors.Is(err, io.ErrUnexpectedEOF):
	case err != nil:
		return fmt.Errorf("read chunk %d: %w", d.n, err)
	}
	final := m < len(d.in)
	if !final {
		if _, err := d.r.Peek(1); errors.Is(err, io.EOF) {
			final = true
		} else if err != nil {
			return fmt.Errorf("read chunk %d: %w", d.n+1, err)
		}
	}
	if m < tagSize {
		return fmt.Errorf("%w: chunk %d has %d bytes", ErrTruncated, d.n, m)
	}
	plain, err := d.aead.Open(d.out[:0], chunkNonce(d.n, final), d.in[:m], d.ad)
	if err != nil {
		return d.explain(final, m)
	}
	d.plain, d.done = plain, final
	d.n++
	return nil
}

// explain tells a truncated file (its last chunk is not the final one)
// from a tampered or corrupt one.
func (d *decrypter) explain(final bool, m int) error {
	if final {
		if _, err := d.aead.Open(d.out[:0], chunkNonce(d.n, false), d.in[:m], d.ad); err == nil {
			return fmt.Errorf("%w: ends after chunk %d without the final chunk", ErrTruncated, d.n+1)
		}
	} else if _, err := d.aead.Open(d.out[:0], chunkNonce(d.n, true), d.in[:m], d.ad); err == nil {
		return fmt.Errorf("%w: data after the final chunk %d", ErrCorrupt, d.n)
	}
	if final && m < len(d.in) {
		// Most often a download that stopped; a damaged short last chunk
		// looks the same.
		return fmt.Errorf("%w: ends inside chunk %d (or its last chunk is damaged)", ErrTruncated, d.n)
	}
	return fmt.Errorf("%w: chunk %d does not authenticate", ErrCorrupt, d.n)
}
