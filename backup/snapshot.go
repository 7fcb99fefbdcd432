package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Snapshotter makes a consistent copy of a store in a directory that does
// not exist yet (*store.DB).
type Snapshotter interface {
	Snapshot(dir string) error
}

// tmpPrefix names the snapshot directories Write makes beside the store.
const tmpPrefix = ".backup-"

// running admits one Write at a time per process: snapshots pin sstables
// that compactions would otherwise delete, and a second concurrent backup
// would only double that and the disk reads.
var running = make(chan struct{}, 1)

// Write snapshots db into a temporary directory under parent and writes
// the archive of the snapshot to w. parent must be on the same filesystem
// as the store (its data directory) so that the snapshot hard-links the
// sstables instead of copying them. The snapshot is taken before the first
// byte is written; a failure after that leaves w with an archive that
// readers reject as truncated. Directories left by a Write that died with
// its process are removed first.
func Write(ctx context.Context, w io.Writer, db Snapshotter, parent string, m Manifest) (Stats, error) {
	select {
	case running <- struct{}{}:
	case <-ctx.Done():
		return Stats{}, fmt.Errorf("backup: wait for the running backup: %w", ctx.Err())
	}
	defer func() { <-running }()
	removeStale(parent)
	tmp, err := os.MkdirTemp(parent, tmpPrefix)
	if err != nil {
		return Stats{}, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := db.Snapshot(filepath.Join(tmp, storeDir)); err != nil {
		return Stats{}, fmt.Errorf("backup: %w", err)
	}
	return writeArchive(ctx, w, tmp, m)
}

// removeStale deletes snapshot directories of earlier processes. It runs
// while holding running, so no Write of this process owns one.
func removeStale(parent string) {
	old, _ := filepath.Glob(filepath.Join(parent, tmpPrefix+"*"))
	for _, d := range old {
		os.RemoveAll(d)
	}
}
