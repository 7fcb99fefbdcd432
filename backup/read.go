package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Limits on what a reader accepts, so that a hostile file cannot make it
// hold much in memory. Store files themselves are streamed to the sink.
const (
	maxManifest = 64 << 10
	maxSums     = 32 << 20
	maxFiles    = 100_000
	maxWindow   = 64 << 20 // zstd window; the writer uses far less
)

// sink receives the entries of an archive being read.
type sink interface {
	mkdir(name string) error
	create(name string) (io.WriteCloser, error)
}

// discard is the sink of a verification.
type discard struct{}

func (discard) mkdir(string) error { return nil }
func (discard) create(string) (io.WriteCloser, error) {
	return nopCloser{io.Discard}, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Open returns the plaintext archive in r: r itself when it is not
// encrypted, else its decryption with key. It reads only the first bytes
// (and the header of an encrypted file), so a file that is not a backup, an
// encrypted file without a key, and a wrong key fail here, before anything
// is written.
func Open(r io.Reader, key []byte) (io.Reader, bool, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(4)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %d bytes", ErrNotBackup, len(head))
	}
	switch {
	case string(head) == encMagic && key == nil:
		return nil, true, ErrEncrypted
	case string(head) == encMagic:
		d, err := NewDecrypter(br, key)
		return d, true, err
	case bytes.Equal(head, zstdMagic):
		if key != nil {
			return nil, false, ErrNotEncrypted
		}
		return br, false, nil
	}
	return nil, false, fmt.Errorf("%w: unknown magic %x", ErrNotBackup, head)
}

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// readArchive reads a plaintext archive into dst, verifying every file
// against the sums entry. Only a nil error means the archive is complete
// and intact.
func readArchive(r io.Reader, dst sink) (Manifest, Stats, error) {
	zr, err := zstd.NewReader(ioReader{r}, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return Manifest{}, Stats{}, fmt.Errorf("archive: %w", err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	m, err := readManifest(tr)
	if err != nil {
		return m, Stats{}, err
	}
	got, want, err := readFiles(tr, dst)
	if err != nil {
		return m, Stats{}, err
	}
	if err := readEnd(tr, zr); err != nil {
		return m, Stats{}, err
	}
	st, err := compareSums(got, want)
	if err == nil && st.Files == 0 {
		err = fmt.Errorf("%w: no store files", ErrCorrupt)
	}
	return m, st, err
}

func readManifest(tr *tar.Reader) (Manifest, error) {
	var m Manifest
	hdr, err := tr.Next()
	if err != nil {
		return m, fmt.Errorf("%w: no manifest: %w", ErrNotBackup, readErr(err))
	}
	if hdr.Name != manifestName || hdr.Typeflag != tar.TypeReg {
		return m, fmt.Errorf("%w: first entry is %q, not %s", ErrNotBackup, hdr.Name, manifestName)
	}
	if err := decodeEntry(tr, hdr, maxManifest, &m); err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	if m.Format != formatVersion {
		return m, fmt.Errorf("%w: archive format %d (this build reads %d)", ErrVersion, m.Format, formatVersion)
	}
	if m.Kind != "edge" && m.Kind != "cloud" {
		return m, fmt.Errorf("%w: manifest kind %q", ErrCorrupt, m.Kind)
	}
	return m, nil
}

// readFiles copies the store entries into dst until the sums entry, which
// it returns with the sums of what it read.
func readFiles(tr *tar.Reader, dst sink) (map[string]fileSum, sums, error) {
	got := map[string]fileSum{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, sums{}, fmt.Errorf("%w: the archive ends before its %s entry", ErrTruncated, sumsName)
		}
		if err != nil {
			return nil, sums{}, fmt.Errorf("read entry: %w", readErr(err))
		}
		if hdr.Name == sumsName && hdr.Typeflag == tar.TypeReg {
			var want sums
			if err := decodeEntry(tr, hdr, maxSums, &want); err != nil {
				return nil, sums{}, fmt.Errorf("sums: %w", err)
			}
			return got, want, nil
		}
		if len(got) >= maxFiles {
			return nil, sums{}, fmt.Errorf("%w: more than %d files", ErrCorrupt, maxFiles)
		}
		if err := readEntry(tr, hdr, dst, got); err != nil {
			return nil, sums{}, err
		}
	}
}

func readEntry(tr *tar.Reader, hdr *tar.Header, dst sink, got map[string]fileSum) error {
	name, err := safePath(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return dst.mkdir(name)
	case tar.TypeReg:
	default:
		return fmt.Errorf("%w: %q is of type %q, not a file or directory", ErrUnsafePath, hdr.Name, hdr.Typeflag)
	}
	if _, dup := got[name]; dup {
		return fmt.Errorf("%w: %q twice", ErrCorrupt, name)
	}
	w, err := dst.create(name)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(ioWriter{w}, h), tr)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, readErr(err))
	}
	got[name] = fileSum{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	return nil
}

// readEnd checks that nothing follows the sums entry and reads the
// compressed stream to its end, where zstd verifies its checksum.
func readEnd(tr *tar.Reader, zr io.Reader) error {
	if hdr, err := tr.Next(); err == nil {
		return fmt.Errorf("%w: entry %q after %s", ErrCorrupt, hdr.Name, sumsName)
	} else if !errors.Is(err, io.EOF) {
		return fmt.Errorf("after sums: %w", readErr(err))
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("archive end: %w", readErr(err))
	}
	return nil
}

func compareSums(got map[string]fileSum, want sums) (Stats, error) {
	var st Stats
	if len(want.Files) != len(got) {
		return st, fmt.Errorf("%w: sums list %d files, archive has %d", ErrCorrupt, len(want.Files), len(got))
	}
	for _, w := range want.Files {
		if g, ok := got[w.Path]; !ok || g != w {
			return st, fmt.Errorf("%w: %s does not match its checksum", ErrCorrupt, w.Path)
		}
		st.Files, st.Bytes = st.Files+1, st.Bytes+w.Size
	}
	return st, nil
}

func decodeEntry(tr *tar.Reader, hdr *tar.Header, limit int64, v any) error {
	if hdr.Size > limit {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrCorrupt, hdr.Size, limit)
	}
	b, err := io.ReadAll(io.LimitReader(tr, limit))
	if err != nil {
		return readErr(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// readErr classifies an error of the reading stack. Errors of the
// decrypter already wrap a sentinel and errors of the source or the sink
// are ioErrors; of the rest, an unexpected end is truncation and anything
// tar or zstd rejects is corruption.
func readErr(err error) error {
	var ie *ioError
	switch {
	case isSentinel(err), errors.As(err, &ie):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrNotBackup, ErrVersion, ErrWrongKey, ErrTruncated, ErrCorrupt, ErrUnsafePath} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// ioError marks a failure to read the source or write the sink, which says
// nothing about the archive.
type ioError struct{ err error }

func (e *ioError) Error() string { return e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

// ioReader and ioWriter mark the errors of the source and the sink.
type ioReader struct{ r io.Reader }

func (r ioReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF && !isSentinel(err) {
		err = &ioError{err}
	}
	return n, err
}

type ioWriter struct{ w io.Writer }

func (w ioWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		err = &ioError{err}
	}
	return n, err
}
