package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sentinel errors.
var (
	ErrNotInstalled = errors.New("not installed (run scripts/install-deps.sh)")
	ErrNotReady     = errors.New("not ready")
	ErrExited       = errors.New("exited early")
	ErrNoCleanStop  = errors.New("did not stop on SIGTERM")
)

// lookPath finds a peer binary, also in the sbin directories Debian installs
// daemons to, which are often not on a normal user's PATH.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, ErrNotInstalled)
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proc is a child process whose output is kept for error messages.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{}
	err    error // set before exited is closed
}

func startProc(name, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, out: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// The child dies with us, even on SIGKILL, and gets its own process
	// group so a terminal's Ctrl-C reaches only us: we stop it ourselves.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop asks the process to exit (SIGTERM), then kills it after grace; it
// reports whether it had to kill.
func (p *proc) stop(grace time.Duration) (killed bool) {
	select {
	case <-p.exited:
		return false
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return false
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.exited
		return true
	}
}

// waitHTTP polls url until it answers want, the process exits or ctx ends.
func (p *proc) waitHTTP(ctx context.Context, url string, want int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
		}
		if err := p.pause(ctx); err != nil {
			return err
		}
	}
}

// waitTCP waits until addr accepts connections.
func (p *proc) waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if err := p.pause(ctx); err != nil {
			return err
		}
	}
}

func (p *proc) pause(ctx context.Context) error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s %w: %v\n%s", p.name, ErrExited, p.err, p.out.String())
	case <-ctx.Done():
		return fmt.Errorf("%s %w: %w\n%s", p.name, ErrNotReady, ctx.Err(), p.out.String())
	case <-time.After(50 * time.Millisecond):
		return nil
	}
}

// peakRSS reads VmHWM, the peak resident set size, of a live process.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak rss: %w", err)
	}
	return parseVmHWM(b)
}

// rss reads VmHWM (peak) and VmRSS (current) of a live process.
func rss(pid int) (peak, cur int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("rss: %w", err)
	}
	if peak, err = parseVmHWM(b); err != nil {
		return 0, 0, err
	}
	cur, err = parseStatusKB(b, "VmRSS")
	return peak, cur, err
}

// parseVmHWM extracts VmHWM in bytes from /proc/PID/status.
func parseVmHWM(status []byte) (int64, error) { return parseStatusKB(status, "VmHWM") }

// parseStatusKB extracts the "key: N kB" line of /proc/PID/status in bytes.
func parseStatusKB(status []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("peak rss: malformed %s line %q", key, sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("peak rss: %w", err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("peak rss: no %s line", key)
}

// DiskUsage is the size of a directory tree three ways.
type DiskUsage struct {
	Allocated int64 `json:"allocated"` // blocks allocated, as du reports (includes preallocated WAL space)
	Apparent  int64 `json:"apparent"`  // sum of file sizes, as du --apparent-size reports
	SST       int64 `json:"sst"`       // apparent size of Pebble's *.sst files: the compacted data itself
}

// dirUsage measures dir. A file that goes away during the walk (Pebble
// deletes what a compaction made obsolete, in the background) is not
// counted: settledUsage measures again until two walks agree.
func dirUsage(dir string) (DiskUsage, error) {
	var u DiskUsage
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		return u.add(path, d)
	})
	if err != nil {
		return u, fmt.Errorf("disk usage: %w", err)
	}
	return u, nil
}

// add counts the file d at path; nothing if it no longer exists.
func (u *DiskUsage) add(path string, d os.DirEntry) error {
	info, err := d.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	u.Apparent += info.Size()
	if strings.HasSuffix(path, ".sst") {
		u.SST += info.Size()
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		u.Allocated += st.Blocks * 512
	} else {
		u.Allocated += info.Size()
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex // guards buf
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
