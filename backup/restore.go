package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/store"
	"github.com/edgevault/edgevault/uplink"
)

// RestoreResult says what Restore did.
type RestoreResult struct {
	Manifest   Manifest
	Stats      Stats
	Series     int    // series in the restored store
	MovedAside string // where --force moved the old data directory, if it did
}

// Restore reads a backup (encrypted with key, or plain when key is nil)
// and makes it the data directory target. It unpacks into a temporary
// directory beside target, verifies every checksum, opens the restored
// store once (replaying its WAL records, as a node would), and only then
// renames it to target. On any error nothing but that temporary directory
// was written, and it is removed.
//
// target must not exist or be empty. With force a non-empty target is
// moved aside to target.replaced-<time>, never deleted; a target whose
// store is open in a running node is refused even then.
func Restore(ctx context.Context, r io.Reader, key []byte, target string, force bool) (RestoreResult, error) {
	var res RestoreResult
	target = filepath.Clean(target)
	nonEmpty, err := checkTarget(target, force)
	if err != nil {
		return res, err
	}
	plain, _, err := Open(ctxReader{ctx, r}, key)
	if err != nil {
		return res, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(target), "."+filepath.Base(target)+".restore-")
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if res.Manifest, res.Stats, err = readArchive(plain, dirSink{tmp}); err != nil {
		return res, err
	}
	if res.Series, err = checkStore(filepath.Join(tmp, storeDir)); err != nil {
		return res, err
	}
	if nonEmpty {
		res.MovedAside = target + ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(target, res.MovedAside); err != nil {
			return res, fmt.Errorf("restore: move old data aside: %w", err)
		}
	} else if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	return res, syncDir(filepath.Dir(target))
}

// checkTarget reports whether target has files, refusing that without
// force, refusing a target in use even with it, and requiring its parent.
func checkTarget(target string, force bool) (nonEmpty bool, err error) {
	if fi, err := os.Stat(filepath.Dir(target)); err != nil || !fi.IsDir() {
		return false, fmt.Errorf("restore: parent of %s is not a directory: %v", target, err)
	}
	ents, err := os.ReadDir(target)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("restore: %w", err)
	case len(ents) == 0:
		return false, nil
	case !force:
		return true, fmt.Errorf("%w: %s (use --force to move it aside)", ErrTargetNotEmpty, target)
	}
	lock := filepath.Join(target, storeDir, "LOCK")
	if _, err := os.Stat(lock); err == nil {
		l, err := vfs.Default.Lock(lock)
		if err != nil {
			return true, fmt.Errorf("restore: %s is in use by a running node: %v", target, err)
		}
		l.Close()
	}
	return true, nil
}

// checkStore opens the restored store, which replays its WAL records and
// checkpoints them, and counts its series.
func checkStore(dir string) (int, error) {
	db, err := store.Open(dir, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, fmt.Errorf("restore: restored store does not open: %w", err)
	}
	n := len(db.Series())
	if err := uplink.SkipRestored(kv.WithPrefix(db.Meta(), "uplink/")); err != nil {
		db.Close()
		return 0, fmt.Errorf("restore: %w", err)
	}
	if err := db.Close(); err != nil {
		return 0, fmt.Errorf("restore: close restored store: %w", err)
	}
	return n, nil
}

// dirSink writes entries under a directory. Names are checked by safePath
// and no link is ever created, so nothing lands outside it.
type dirSink struct{ root string }

func (s dirSink) mkdir(name string) error {
	return os.MkdirAll(filepath.Join(s.root, filepath.FromSlash(name)), 0o700)
}

func (s dirSink) create(name string) (io.WriteCloser, error) {
	p := filepath.Join(s.root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	return syncCloser{f}, nil
}

type syncCloser struct{ *os.File }

func (f syncCloser) Close() error {
	err := f.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
