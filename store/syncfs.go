package store

import (
	"path/filepath"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// intervalFS implements FsyncInterval. Commits ask Pebble to sync, so the
// WAL record is written to the OS before Append returns (a killed process
// loses nothing), but the fsync of WAL files is deferred to syncAll, which
// runs every FsyncInterval. Every other file (sstables, MANIFEST) is synced
// as Pebble asks.
type intervalFS struct {
	vfs.FS

	mu    sync.Mutex // guards files
	files map[*walFile]struct{}
}

func newIntervalFS(fs vfs.FS) *intervalFS {
	return &intervalFS{FS: fs, files: map[*walFile]struct{}{}}
}

func isWAL(name string) bool { return strings.HasSuffix(filepath.Base(name), ".log") }

func (fs *intervalFS) wrap(f vfs.File, name string, err error) (vfs.File, error) {
	if err != nil || !isWAL(name) {
		return f, err
	}
	w := &walFile{File: f, fs: fs}
	fs.mu.Lock()
	fs.files[w] = struct{}{}
	fs.mu.Unlock()
	return w, nil
}

func (fs *intervalFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(f, name, err)
}

func (fs *intervalFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(f, newname, err)
}

// syncAll fsyncs every open WAL file.
func (fs *intervalFS) syncAll() error {
	fs.mu.Lock()
	files := make([]*walFile, 0, len(fs.files))
	for f := range fs.files {
		files = append(files, f)
	}
	fs.mu.Unlock()
	var first error
	for _, f := range files {
		if err := f.File.Sync(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// walFile defers Sync to intervalFS.syncAll; Close still syncs.
type walFile struct {
	vfs.File
	fs *intervalFS
}

func (f *walFile) Sync() error                { return nil }
func (f *walFile) SyncData() error            { return nil }
func (f *walFile) SyncTo(int64) (bool, error) { return false, nil }

func (f *walFile) Close() error {
	f.fs.mu.Lock()
	delete(f.fs.files, f)
	f.fs.mu.Unlock()
	err := f.File.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	return err
}
