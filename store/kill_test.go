package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/edgevault/edgevault/point"
)

const killDirEnv = "EDGEVAULT_STORE_KILL_DIR"

// TestKill9 runs a child process that appends one point at a time under
// FsyncInterval and prints the index of every acknowledged point, SIGKILLs
// it mid-stream, and checks that the reopened store holds every point the
// child acknowledged.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$")
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() && acked < 3000 {
		if n, err := strconv.Atoi(sc.Text()); err == nil {
			acked = n
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if acked < 3000 {
		t.Fatalf("child acknowledged only %d points", acked)
	}
	db := openT(t, dir, Options{})
	res := query(t, db, Query{Device: "d", Metric: "m", From: t0, To: t0 + 1e9})
	if len(res.Samples) < acked+1 {
		t.Fatalf("after kill -9: %d points stored, %d acknowledged", len(res.Samples), acked+1)
	}
	for i, s := range res.Samples[:acked+1] {
		if s.T != t0+int64(i)*1000 || s.V.Int() != int64(i) {
			t.Fatalf("point %d: %d=%v", i, s.T-t0, s.V)
		}
	}
}

// TestKill9Child is the child side of TestKill9; it does nothing otherwise.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("child of TestKill9 only")
	}
	db, err := Open(dir, Options{Logger: quietLogger(), CheckpointInterval: 50e6})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); ; i++ {
		if _, err := db.Append([]point.Reading{rd("d", "m", t0+i*1000, point.Int(i))}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(os.Stdout, i)
	}
}
