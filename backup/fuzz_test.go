package backup

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// memSink keeps what an archive holds, checking every name it is given
// and bounding the bytes, so a fuzzed bomb fails fast.
type memSink struct {
	t     *testing.T
	total int
}

var errTooMuch = errors.New("fuzz: too much output")

func (m *memSink) check(name string) {
	if clean, err := safePath(name); err != nil || clean != name || len(name) <= len(storeDir)+1 {
		m.t.Fatalf("sink got unsafe name %q", name)
	}
}

func (m *memSink) mkdir(name string) error { m.check(name); return nil }

func (m *memSink) create(name string) (io.WriteCloser, error) {
	m.check(name)
	return nopCloser{m}, nil
}

func (m *memSink) Write(p []byte) (int, error) {
	if m.total += len(p); m.total > 8<<20 {
		return 0, errTooMuch
	}
	return len(p), nil
}

func archiveSeeds(f *testing.F) {
	file := entry{name: "store/000001.sst", body: "sst"}
	f.Add(tarZst(f, manifestEntry(1), file, sumsEntry(file)))
	f.Add(tarZst(f, manifestEntry(1), entry{name: "store/d/", typ: '5'}, entry{name: "store/d/x", body: "x"}))
	f.Add(tarZst(f, manifestEntry(1), entry{name: "store/../x", body: "x"}))
	f.Add(tarZst(f, manifestEntry(1), entry{name: "store/l", link: "/", typ: '2'}))
}

// FuzzArchive feeds arbitrary bytes to the archive reader: it must not
// panic, must hand the sink only safe names, and must say why it failed.
func FuzzArchive(f *testing.F) {
	archiveSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, err := readArchive(bytes.NewReader(data), &memSink{t: t})
		if err != nil && !isSentinel(err) && !errors.Is(err, errTooMuch) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}

// FuzzDecrypt feeds arbitrary bytes to the decrypter: no panic, and a
// clean end only for what was encrypted with the key (seeds).
func FuzzDecrypt(f *testing.F) {
	for _, n := range []int{0, 10, 16, 40} {
		f.Add(encrypt(f, bytes.Repeat([]byte("p"), n), testKey, 16))
	}
	f.Add([]byte(encMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, err := Open(bytes.NewReader(data), testKey)
		if err != nil {
			if !isSentinel(err) && !errors.Is(err, ErrNotEncrypted) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		plain, err := io.ReadAll(io.LimitReader(r, 1<<20))
		if err == nil && len(data) != headerSize+len(plain)+tagSize*max(1, (len(plain)+15)/16) {
			t.Fatalf("%d bytes decrypted to %d bytes", len(data), len(plain))
		}
		if err != nil && !isSentinel(err) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}
