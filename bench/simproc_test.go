package bench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// policyOf reads the scheduling policy from a /proc/<pid>/stat line
// (field 41, counting from the pid).
func policyOf(t *testing.T, stat string) int {
	t.Helper()
	i := strings.LastIndexByte(stat, ')')
	fields := strings.Fields(stat[i+1:]) // from field 3, the state
	if i < 0 || len(fields) < 39 {
		t.Fatalf("short stat line %q", stat)
	}
	p, err := strconv.Atoi(fields[41-3])
	if err != nil {
		t.Fatalf("policy field of %q: %v", stat, err)
	}
	return p
}

func TestRunIdleRunsTheChildAtIdlePolicy(t *testing.T) {
	cmd := exec.Command("cat", "/proc/self/stat")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := runIdle(cmd); err != nil {
		t.Fatal(err)
	}
	if p := policyOf(t, out.String()); p != unix.SCHED_IDLE {
		t.Fatalf("child policy %d, want SCHED_IDLE (%d)", p, unix.SCHED_IDLE)
	}
	// The thread that started it is back at SCHED_NORMAL (the tests run as
	// root) or has ended with its goroutine: no thread of the bench itself
	// stays at SCHED_IDLE.
	deadline := time.Now().Add(5 * time.Second)
	for {
		idle := 0
		stats, _ := filepath.Glob("/proc/self/task/*/stat")
		for _, f := range stats {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			if policyOf(t, string(b)) != 0 {
				idle++
			}
		}
		if idle == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d threads of the test process are not at SCHED_NORMAL", idle)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
