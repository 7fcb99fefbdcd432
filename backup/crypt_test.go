package backup

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

var testKey = bytes.Repeat([]byte{7}, KeySize)

func encrypt(t testing.TB, plain, key []byte, chunk int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewEncrypter(&buf, key, chunk)
	if err != nil {
		t.Fatal(err)
	}
	// Write in uneven pieces so chunk boundaries fall inside writes.
	rng := rand.New(rand.NewPCG(1, 2))
	for p := plain; len(p) > 0; {
		n := min(len(p), 1+rng.IntN(3*max(chunk, 64)))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decrypt(data, key []byte) ([]byte, error) {
	r, err := NewDecrypter(bytes.NewReader(data), key)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestEncryptRoundTrip(t *testing.T) {
	const chunk = 64
	cases := []struct {
		name  string
		size  int
		chunk int
	}{
		{"empty", 0, chunk},
		{"one byte", 1, chunk},
		{"chunk minus one", chunk - 1, chunk},
		{"exactly one chunk", chunk, chunk},
		{"chunk plus one", chunk + 1, chunk},
		{"three chunks", 3 * chunk, chunk},
		{"default chunk, 200 KiB", 200 << 10, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plain := make([]byte, tc.size)
			for i := range plain {
				plain[i] = byte(i * 31)
			}
			enc := encrypt(t, plain, testKey, tc.chunk)
			cs := tc.chunk
			if cs == 0 {
				cs = DefaultChunkSize
			}
			chunks := max(1, (tc.size+cs-1)/cs)
			if want := headerSize + tc.size + chunks*tagSize; len(enc) != want {
				t.Fatalf("%d bytes encrypted, want %d", len(enc), want)
			}
			got, err := decrypt(enc, testKey)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decrypt: %v (%d bytes, want %d)", err, len(got), len(plain))
			}
		})
	}
}

func TestEncryptSaltDiffers(t *testing.T) {
	a, b := encrypt(t, []byte("same"), testKey, 64), encrypt(t, []byte("same"), testKey, 64)
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same plaintext are equal")
	}
}

func TestDecryptRejects(t *testing.T) {
	const chunk = 32
	plain := bytes.Repeat([]byte("0123456789abcdef"), 10) // 160 bytes: 5 full chunks
	enc := encrypt(t, plain, testKey, chunk)
	sealed := chunk + tagSize
	otherKey := bytes.Repeat([]byte{8}, KeySize)
	cases := []struct {
		name string
		data []byte
		key  []byte
		want error
	}{
		{"wrong key", enc, otherKey, ErrWrongKey},
		{"short key", enc, otherKey[:16], ErrBadKey},
		{"header only", enc[:headerSize], testKey, ErrTruncated},
		{"cut in the header", enc[:headerSize-1], testKey, ErrTruncated},
		{"cut at a chunk boundary", enc[:headerSize+2*sealed], testKey, ErrTruncated},
		{"last chunk dropped", enc[:len(enc)-sealed], testKey, ErrTruncated},
		{"cut inside a chunk", enc[:headerSize+sealed+5], testKey, ErrTruncated},
		{"cut inside a chunk after its plaintext", enc[:headerSize+sealed+chunk+3], testKey, ErrTruncated},
		{"bit flip in a chunk", flip(enc, headerSize+sealed+3), testKey, ErrCorrupt},
		{"bit flip in a tag", flip(enc, len(enc)-1), testKey, ErrCorrupt},
		{"chunk size changed", flip(enc, 8), testKey, ErrCorrupt},
		{"salt changed", flip(enc, 12), testKey, ErrWrongKey},
		{"version changed", flip(enc, 4), testKey, ErrVersion},
		{"magic changed", flip(enc, 0), testKey, ErrNotBackup},
		{"chunks swapped", swap(enc, headerSize, headerSize+sealed, sealed), testKey, ErrCorrupt},
		{"chunk repeated", splice(enc, headerSize+sealed, enc[headerSize:headerSize+sealed]), testKey, ErrCorrupt},
		{"data appended", append(bytes.Clone(enc), 0), testKey, ErrCorrupt},
		{"final chunk appended twice", append(bytes.Clone(enc), enc[len(enc)-sealed:]...), testKey, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decrypt(tc.data, tc.key)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v (%d bytes), want %v", err, len(got), tc.want)
			}
		})
	}
}

// TestDecryptEveryTruncation cuts the file at every length: none reads to a
// clean end.
func TestDecryptEveryTruncation(t *testing.T) {
	enc := encrypt(t, bytes.Repeat([]byte("x"), 100), testKey, 32)
	for n := 0; n < len(enc); n++ {
		if _, err := decrypt(enc[:n], testKey); err == nil {
			t.Fatalf("cut at %d of %d: decrypted without error", n, len(enc))
		}
	}
}

func TestParseKey(t *testing.T) {
	hexKey := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"raw", string(bytes.Repeat([]byte{0xff}, 32)), true},
		{"hex", hexKey, true},
		{"hex with newline", hexKey + "\n", true},
		{"hex upper case with spaces", "  " + string(bytes.ToUpper([]byte(hexKey))) + "\r\n", true},
		{"short", hexKey[:62], false},
		{"not hex", "zz" + hexKey[2:], false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey([]byte(tc.in))
			if tc.ok != (err == nil) || (err == nil && len(k) != KeySize) {
				t.Fatalf("ParseKey: %x, %v", k, err)
			}
			if err != nil && !errors.Is(err, ErrBadKey) {
				t.Fatalf("err %v is not ErrBadKey", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

func swap(b []byte, i, j, n int) []byte {
	c := bytes.Clone(b)
	copy(c[i:i+n], b[j:j+n])
	copy(c[j:j+n], b[i:i+n])
	return c
}

func splice(b []byte, at int, ins []byte) []byte {
	c := append(bytes.Clone(b[:at]), ins...)
	return append(c, b[at:]...)
}
