package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgevault/edgevault/sim"
)

// runSimProc runs the device load as its own process (`edgevault sim
// --json`), not as goroutines of the bench. Latency probes measured from
// the bench must not share a Go scheduler with a saturating load
// generator: a Go process whose run queues never empty looks at the
// network only from sysmon, every 10 ms, so a webhook POST reaching a
// receiver there waits up to 10 ms before it is even read. Real devices
// and the service a webhook calls are not one process either.
//
// With idle set, the load runs under the SCHED_IDLE policy: it gets only
// the CPU the node (and the bench) leave, as devices on their own machines
// would take none of the node's, while the node still works as fast as the
// inflight window lets it.
func runSimProc(ctx context.Context, bin string, o sim.Options, idle bool) (sim.Report, time.Duration, error) {
	bin, err := edgeBinary(bin)
	if err != nil {
		return sim.Report{}, 0, err
	}
	args := []string{"sim", "--json", "--broker", o.Broker, "--devices", strconv.Itoa(o.Devices),
		"--rate", strconv.FormatFloat(o.Rate, 'g', -1, 64), "--duration", o.Duration.String(),
		"--format", string(o.Format), "--qos", strconv.Itoa(int(o.QoS)), "--inflight", strconv.Itoa(o.Inflight),
		"--prefix", o.Prefix, "--seed", strconv.FormatUint(o.Seed, 10)}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	run := cmd.Run
	if idle {
		run = func() error { return runIdle(cmd) }
	}
	runErr := run() // exits 1 when a publish failed, with the report all the same
	var cpu time.Duration
	if st := cmd.ProcessState; st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	var rep sim.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		if runErr != nil {
			return rep, cpu, fmt.Errorf("sim: %w: %.500s", runErr, stderr.Bytes())
		}
		return rep, cpu, fmt.Errorf("sim report: %w", err)
	}
	return rep, cpu, nil
}

// runIdle runs cmd under the SCHED_IDLE scheduling policy. The policy is
// per thread and a new process takes its creator's, so cmd runs from a
// thread of its own, set to SCHED_IDLE first. That thread stays until cmd
// has exited: Pdeathsig kills the child when the thread that started it
// ends, not the process. It then goes back to SCHED_NORMAL, which takes
// CAP_SYS_NICE; when that fails, the thread, still locked, ends with its
// goroutine (or, if it is the main thread, which cannot end, parks for
// good), so no other goroutine of the bench runs at the idle policy.
func runIdle(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			errc <- fmt.Errorf("sched_setattr(SCHED_IDLE): %w", err)
			return
		}
		err := cmd.Run()
		attr.Policy = unix.SCHED_NORMAL
		if unix.SchedSetAttr(0, &attr, 0) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
