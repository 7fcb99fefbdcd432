package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Sentinel errors. Every failure to read a backup wraps one of them.
var (
	// ErrNotBackup: the file is neither an archive nor an encrypted archive.
	ErrNotBackup = errors.New("not an edgevault backup")
	// ErrVersion: a format version this build does not read.
	ErrVersion = errors.New("unsupported backup version")
	// ErrEncrypted: the file is encrypted and no key was given.
	ErrEncrypted = errors.New("backup is encrypted: a key file is needed")
	// ErrNotEncrypted: a key was given but the file is not encrypted, so
	// nothing vouches that it was written by the key's holder.
	ErrNotEncrypted = errors.New("backup is not encrypted but a key file was given")
	// ErrBadKey: a key file that does not hold a key.
	ErrBadKey = errors.New("bad backup key")
	// ErrWrongKey: the key is not the one the file was encrypted with.
	ErrWrongKey = errors.New("wrong backup key (or a damaged header)")
	// ErrTruncated: the file ends early.
	ErrTruncated = errors.New("backup is truncated")
	// ErrCorrupt: bytes that do not authenticate, decompress, or match
	// their checksums; or an archive that breaks the format's rules.
	ErrCorrupt = errors.New("backup is corrupt or tampered with")
	// ErrUnsafePath: an entry that is not a plain file or directory under
	// store/ (absolute, "..", links, devices).
	ErrUnsafePath = errors.New("unsafe path in backup")
	// ErrTargetNotEmpty: restore into a data directory that has files.
	ErrTargetNotEmpty = errors.New("data directory is not empty")
)

// Names of the archive's entries (doc.go).
const (
	manifestName  = "EDGEVAULT-BACKUP"
	sumsName      = "EDGEVAULT-SUMS"
	storeDir      = "store"
	formatVersion = 1
)

// Manifest is the archive's first entry.
type Manifest struct {
	Format  int       `json:"format"`  // formatVersion
	Kind    string    `json:"kind"`    // "edge" or "cloud": which service wrote it
	Created time.Time `json:"created"` // when the snapshot was taken
}

// fileSum is one line of the sums entry.
type fileSum struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// sums is the archive's last entry.
type sums struct {
	Files []fileSum `json:"files"`
}

// Stats describe an archive.
type Stats struct {
	Files int   // store files
	Bytes int64 // their size, before compression
}

// writeArchive writes the files under root/store as an archive to w.
func writeArchive(ctx context.Context, w io.Writer, root string, m Manifest) (Stats, error) {
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return Stats{}, fmt.Errorf("archive: %w", err)
	}
	tw := tar.NewWriter(zw)
	m.Format = formatVersion
	st, err := writeEntries(ctx, tw, root, m)
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return st, fmt.Errorf("archive: %w", err)
	}
	return st, nil
}

func writeEntries(ctx context.Context, tw *tar.Writer, root string, m Manifest) (Stats, error) {
	var st Stats
	mb, err := json.Marshal(m)
	if err != nil {
		return st, err
	}
	if err := writeBytes(tw, manifestName, mb, m.Created); err != nil {
		return st, err
	}
	var sum sums
	err = filepath.WalkDir(filepath.Join(root, storeDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fsum, err := writeFile(tw, p, filepath.ToSlash(rel))
		sum.Files = append(sum.Files, fsum)
		st.Files, st.Bytes = st.Files+1, st.Bytes+fsum.Size
		return err
	})
	if err != nil {
		return st, err
	}
	sb, err := json.Marshal(sum)
	if err != nil {
		return st, err
	}
	return st, writeBytes(tw, sumsName, sb, m.Created)
}

func writeBytes(tw *tar.Writer, name string, b []byte, mod time.Time) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(b)), Mode: 0o600, ModTime: mod}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// writeFile copies one snapshot file into the archive. Snapshot files do
// not change: sstables are immutable and the WAL and MANIFEST are copies.
func writeFile(tw *tar.Writer, p, name string) (fileSum, error) {
	f, err := os.Open(p)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fileSum{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileSum{}, fmt.Errorf("%s: not a regular file", p)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: fi.Size(), Mode: 0o600, ModTime: fi.ModTime()}
	if err := tw.WriteHeader(hdr); err != nil {
		return fileSum{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), f)
	if err == nil && n != fi.Size() {
		err = fmt.Errorf("%s: changed while archived", p)
	}
	return fileSum{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}

// safePath checks an entry name: relative, clean, slash-separated, under
// store/, no "." or ".." elements and nothing a filesystem would read
// differently (backslashes, NUL, volume names).
func safePath(name string) (string, error) {
	clean := strings.TrimSuffix(name, "/")
	bad := clean == "" || path.Clean(clean) != clean || strings.ContainsAny(clean, "\\\x00:") ||
		!strings.HasPrefix(clean, storeDir+"/") || !filepath.IsLocal(filepath.FromSlash(clean))
	if !bad {
		for _, e := range strings.Split(clean, "/") {
			bad = bad || e == "." || e == ".."
		}
	}
	if bad {
		return "", fmt.Errorf("%w: %q", ErrUnsafePath, name)
	}
	return clean, nil
}
