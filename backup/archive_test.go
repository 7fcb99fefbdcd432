package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestArchiveRoundTrip(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "encrypted"}[encrypted]
		t.Run(name, func(t *testing.T) {
			src := t.TempDir()
			db := openStore(t, src)
			fill(t, db, 500)
			data, key := archiveOf(t, db, src), []byte(nil)
			if encrypted {
				data, key = encrypt(t, data, testKey, 0), testKey
			}
			if left := listing(t, src); !slices.Equal(left, []string{storeDir}) {
				t.Fatalf("backup left %v in the data directory", left)
			}
			m, st, err := Verify(bytes.NewReader(data), key)
			if err != nil || m.Kind != "edge" || !m.Created.Equal(t0) || st.Files == 0 {
				t.Fatalf("verify: %+v %+v %v", m, st, err)
			}
			target := filepath.Join(t.TempDir(), "data")
			res, err := Restore(context.Background(), bytes.NewReader(data), key, target, false)
			if err != nil || res.Series != 3 || res.Stats != st {
				t.Fatalf("restore: %+v %v", res, err)
			}
			checkPoints(t, target, 500)
		})
	}
}

func TestArchiveRejects(t *testing.T) {
	file := entry{name: "store/000001.sst", body: "sst"}
	ok := []entry{manifestEntry(1), file}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty file", nil, ErrNotBackup},
		{"text", []byte("hello, world"), ErrNotBackup},
		{"zstd, not tar", zstdOf(t, "not a tar archive at all"), ErrNotBackup},
		{"no manifest", tarZst(t, file, sumsEntry(file)), ErrNotBackup},
		{"format 2", tarZst(t, manifestEntry(2), file, sumsEntry(file)), ErrVersion},
		{"manifest with unknown field", tarZst(t, entry{name: manifestName, body: `{"format":1,"kind":"edge","x":1}`}), ErrCorrupt},
		{"manifest of another kind", tarZst(t, entry{name: manifestName, body: `{"format":1,"kind":"db"}`}), ErrCorrupt},
		{"dot-dot", tarZst(t, manifestEntry(1), entry{name: "store/../../evil", body: "x"}), ErrUnsafePath},
		{"dot-dot inside", tarZst(t, manifestEntry(1), entry{name: "store/a/../b", body: "x"}), ErrUnsafePath},
		{"absolute", tarZst(t, manifestEntry(1), entry{name: "/etc/passwd", body: "x"}), ErrUnsafePath},
		{"outside store", tarZst(t, manifestEntry(1), entry{name: "evil", body: "x"}), ErrUnsafePath},
		{"store itself as a file", tarZst(t, manifestEntry(1), entry{name: "store", body: "x"}), ErrUnsafePath},
		{"backslash", tarZst(t, manifestEntry(1), entry{name: `store/..\..\evil`, body: "x"}), ErrUnsafePath},
		{"double slash", tarZst(t, manifestEntry(1), entry{name: "store//x", body: "x"}), ErrUnsafePath},
		{"symlink", tarZst(t, manifestEntry(1), entry{name: "store/l", link: "../../etc", typ: tar.TypeSymlink}), ErrUnsafePath},
		{"hard link", tarZst(t, manifestEntry(1), entry{name: "store/l", link: "/etc/passwd", typ: tar.TypeLink}), ErrUnsafePath},
		{"device", tarZst(t, manifestEntry(1), entry{name: "store/d", typ: tar.TypeChar}), ErrUnsafePath},
		{"no sums", tarZst(t, ok...), ErrTruncated},
		{"sum mismatch", tarZst(t, manifestEntry(1), file, sumsEntry(entry{name: file.name, body: "SST"})), ErrCorrupt},
		{"file not in sums", tarZst(t, manifestEntry(1), file, sumsEntry()), ErrCorrupt},
		{"file only in sums", tarZst(t, manifestEntry(1), sumsEntry(file)), ErrCorrupt},
		{"file twice", tarZst(t, manifestEntry(1), file, file, sumsEntry(file, file)), ErrCorrupt},
		{"entry after sums", tarZst(t, manifestEntry(1), file, sumsEntry(file), file), ErrCorrupt},
		{"no store files", tarZst(t, manifestEntry(1), sumsEntry()), ErrCorrupt},
		{"garbage after the archive", append(tarZst(t, manifestEntry(1), file, sumsEntry(file)), "junk"...), ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Verify(bytes.NewReader(tc.data), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, _, err := Verify(bytes.NewReader(tarZst(t, manifestEntry(1), file, sumsEntry(file))), nil); err != nil {
		t.Fatalf("the valid hand-made archive: %v", err)
	}
}

func zstdOf(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write([]byte(s))
	zw.Close()
	return buf.Bytes()
}

// TestArchiveDamage cuts and flips a real archive, plain and encrypted, at
// spread positions: every read fails.
func TestArchiveDamage(t *testing.T) {
	src := t.TempDir()
	db := openStore(t, src)
	fill(t, db, 300)
	plain := archiveOf(t, db, src)
	for name, data := range map[string][]byte{"plain": plain, "encrypted": encrypt(t, plain, testKey, 1024)} {
		key := map[string][]byte{"plain": nil, "encrypted": testKey}[name]
		for i := 0; i < 64; i++ {
			at := i * len(data) / 64
			if _, _, err := Verify(bytes.NewReader(data[:at]), key); err == nil {
				t.Errorf("%s cut at %d of %d: verified", name, at, len(data))
			}
			if _, _, err := Verify(bytes.NewReader(flip(data, at)), key); err == nil {
				t.Errorf("%s flipped at %d of %d: verified", name, at, len(data))
			}
		}
		if _, _, err := Verify(bytes.NewReader(data[:len(data)-1]), key); err == nil {
			t.Errorf("%s without its last byte: verified", name)
		}
	}
}

func TestRestoreTarget(t *testing.T) {
	src := t.TempDir()
	db := openStore(t, src)
	fill(t, db, 10)
	data := archiveOf(t, db, src)
	parent := t.TempDir()
	restore := func(target string, data []byte, force bool) (RestoreResult, error) {
		return Restore(context.Background(), bytes.NewReader(data), nil, filepath.Join(parent, target), force)
	}

	if err := os.MkdirAll(filepath.Join(parent, "full", "store"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(parent, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	before := listing(t, parent)
	if _, err := restore("full", data, false); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("non-empty target: %v", err)
	}
	if _, err := restore("new", data[:len(data)/2], false); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := restore("new", flip(data, len(data)/2), false); err == nil {
		t.Fatal("tampered archive restored")
	}
	if _, err := restore("new", data, false); err != nil {
		t.Fatalf("new target: %v", err)
	}
	if got := listing(t, parent); !slices.Equal(got, append(slices.Clone(before), "new")) {
		t.Fatalf("after failed restores and one good one: %v (before %v)", got, before)
	}
	if _, err := restore("empty", data, false); err != nil {
		t.Fatalf("empty target: %v", err)
	}
	res, err := restore("full", data, true)
	if err != nil || !strings.HasPrefix(res.MovedAside, filepath.Join(parent, "full.replaced-")) {
		t.Fatalf("forced restore: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(res.MovedAside, "store")); err != nil {
		t.Fatalf("old data not kept: %v", err)
	}
	checkPoints(t, filepath.Join(parent, "full"), 10)
	if _, err := restore(filepath.Join("missing", "data"), data, false); err == nil {
		t.Fatal("restore under a missing parent succeeded")
	}
}

// TestRestoreRefusesOpenStore: --force does not move the data directory of
// a running node.
func TestRestoreRefusesOpenStore(t *testing.T) {
	src := t.TempDir()
	db := openStore(t, src)
	fill(t, db, 10)
	data := archiveOf(t, db, src)
	_, err := Restore(context.Background(), bytes.NewReader(data), nil, src, true)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("restore over an open store: %v", err)
	}
}
