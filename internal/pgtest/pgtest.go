// Package pgtest runs a throwaway PostgreSQL cluster for the tests of one
// package: initdb in a temporary directory, a postmaster on a free
// 127.0.0.1 port with its unix socket in that directory, one fresh database
// per test, and everything stopped and removed when the package's tests end.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and call URL(t) in a test that needs a database. The cluster starts on the
// first call, so a package whose selected tests need none pays nothing.
//
// The binaries come from $PGTEST_BIN, else the newest
// /usr/lib/postgresql/*/bin (Debian's postgresql package, installed by
// scripts/install-deps.sh), else $PATH. As root the cluster runs as the
// postgres user, since PostgreSQL refuses to run as root. Without PostgreSQL
// a test is skipped, except under CI=true, where it fails: CI must not pass
// by testing nothing.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrMissing means no PostgreSQL server binaries were found.
var ErrMissing = errors.New("pgtest: PostgreSQL not installed (run scripts/install-deps.sh or set PGTEST_BIN)")

var (
	inMain  atomic.Bool
	once    sync.Once
	shared  *Cluster
	openErr error
	dbSeq   atomic.Int64
)

// Main runs the package's tests and stops the shared cluster, if one was
// started, before returning m.Run's code.
func Main(m *testing.M) int {
	inMain.Store(true)
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stop:", err)
		}
	}
	return code
}

// URL returns the connection URL of a new, empty database on the package's
// cluster; the database is dropped when the test ends. Without PostgreSQL
// it skips the test, or fails it under CI=true.
func URL(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := c.exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c.url(name)
}

// Shared returns the package's cluster, starting it on first use.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if !inMain.Load() {
		t.Fatal("pgtest: call pgtest.Main from the package's TestMain")
	}
	once.Do(func() { shared, openErr = Start() })
	switch {
	case errors.Is(openErr, ErrMissing) && os.Getenv("CI") != "true":
		t.Skipf("%v; skipped outside CI", openErr)
	case openErr != nil:
		t.Fatal(openErr)
	}
	return shared
}

// Cluster is a running throwaway PostgreSQL instance.
type Cluster struct {
	dir  string // removed by Stop
	port int
	cmd  *exec.Cmd
	done chan error // the postmaster's exit
}

// Start initializes and starts a cluster in a new temporary directory.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{dir: dir}
	cred, err := runAs(dir)
	if err == nil {
		err = c.initdb(bin, cred)
	}
	for try := 0; err == nil && try < 3; try++ {
		if err = c.start(bin, cred); err == nil {
			return c, nil
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if d := os.Getenv("PGTEST_BIN"); d != "" {
		dirs = []string{d}
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && os.Getenv("PGTEST_BIN") == "" {
		return filepath.Dir(p), nil
	}
	return "", ErrMissing
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// runAs returns the credential of the postgres user when running as root,
// after handing dir to it; nil means the current user.
func runAs(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root needs a postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (c *Cluster) command(cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "HOME="+c.dir, "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	return cmd
}

func (c *Cluster) initdb(bin string, cred *syscall.Credential) error {
	cmd := c.command(cred, filepath.Join(bin, "initdb"), "-D", filepath.Join(c.dir, "data"),
		"-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v: %s", err, out)
	}
	return nil
}

// start runs the postmaster on a free port and waits until it accepts
// connections.
func (c *Cluster) start(bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(c.dir, "postgres.log"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer log.Close()
	c.port = port
	c.cmd = c.command(cred, filepath.Join(bin, "postgres"), "-D", filepath.Join(c.dir, "data"),
		"-p", strconv.Itoa(port), "-k", c.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=200", "-c", "shared_buffers=128MB", "-c", "max_wal_size=2GB")
	c.cmd.Stdout, c.cmd.Stderr = log, log
	// A test binary killed by its timeout must not leave a postmaster
	// behind: SIGQUIT is PostgreSQL's immediate shutdown.
	c.cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	c.done = make(chan error, 1)
	go func() { c.done <- c.cmd.Wait() }()
	if err := c.waitReady(30 * time.Second); err != nil {
		c.shutdown()
		logText, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		return fmt.Errorf("pgtest: %w; log:\n%s", err, logText)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case err := <-c.done:
			c.done <- err
			return fmt.Errorf("postgres exited: %v", err)
		default:
		}
		err := c.exec("SELECT 1")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %v: %w", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns the connection URL of database db on the cluster.
func (c *Cluster) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// AdminURL returns the URL of the cluster's postgres database.
func (c *Cluster) AdminURL() string { return c.url("postgres") }

// exec runs one statement on the postgres database.
func (c *Cluster) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.AdminURL())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// Stop shuts the postmaster down (fast shutdown, then SIGKILL after 20s)
// and removes the cluster's directory.
func (c *Cluster) Stop() error {
	return errors.Join(c.shutdown(), os.RemoveAll(c.dir))
}

func (c *Cluster) shutdown() error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	defer func() { c.cmd = nil }()
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
		return nil
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		return errors.New("pgtest: postgres did not stop within 20s; killed")
	}
}
