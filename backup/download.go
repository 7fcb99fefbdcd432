package backup

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Path is the backup route of the edge node and of the cloud service.
const Path = "/api/v1/admin/backup"

// DownloadOptions say where a backup comes from and how it is stored.
type DownloadOptions struct {
	URL    string       // base URL of the node, e.g. http://127.0.0.1:8080
	Token  string       // bearer token; empty sends none
	Key    []byte       // encrypt with this key; nil stores the archive as it comes
	Client *http.Client // nil means a client that waits at most 2 min for the answer's headers
}

// DownloadResult describes a written backup.
type DownloadResult struct {
	Manifest Manifest
	Stats    Stats
	Size     int64 // bytes of the file
}

// Download fetches a backup and writes it to out, which must not exist.
// The archive is verified as it arrives (every checksum, the end of the
// archive); out appears, complete, only if it verified.
func Download(ctx context.Context, o DownloadOptions, out string) (DownloadResult, error) {
	var res DownloadResult
	if _, err := os.Lstat(out); err == nil {
		return res, fmt.Errorf("%s already exists", out)
	}
	resp, err := get(ctx, o)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-")
	if err != nil {
		return res, fmt.Errorf("download: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	if res, err = receive(resp.Body, f, o.Key); err != nil {
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, fmt.Errorf("download: %w", err)
	}
	// Link, unlike Rename, fails rather than replace a file made meanwhile.
	if err := os.Link(f.Name(), out); err != nil {
		return res, fmt.Errorf("download: %w", err)
	}
	return res, syncDir(filepath.Dir(out))
}

func get(ctx context.Context, o DownloadOptions) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(o.URL, "/")+Path, nil)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	c := o.Client
	if c == nil {
		c = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: 2 * time.Minute,
		}}
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, httpError(resp)
	}
	return resp, nil
}

// receive copies body to f, encrypted when key is set, while verifying it.
func receive(body io.Reader, f *os.File, key []byte) (DownloadResult, error) {
	var res DownloadResult
	cw := &countWriter{w: f}
	var dst io.Writer = cw
	var enc io.WriteCloser
	if key != nil {
		var err error
		if enc, err = NewEncrypter(cw, key, 0); err != nil {
			return res, err
		}
		dst = enc
	}
	tee := io.TeeReader(body, dst)
	m, st, err := readArchive(tee, discard{})
	if err != nil {
		return res, fmt.Errorf("download: %w", err)
	}
	// What the archive reader left unread (nothing, normally) is copied too.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return res, fmt.Errorf("download: %w", err)
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return res, err
		}
	}
	if err := f.Sync(); err != nil {
		return res, fmt.Errorf("download: %w", err)
	}
	return DownloadResult{Manifest: m, Stats: st, Size: cw.n}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
