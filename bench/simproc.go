package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/edgevault/edgevault/sim"
)

// runSimProc runs the device load as its own process (`edgevault sim
// --json`), not as goroutines of the bench. Latency probes measured from
// the bench must not share a Go scheduler with a saturating load
// generator: a Go process whose run queues never empty looks at the
// network only from sysmon, every 10 ms, so a webhook POST reaching a
// receiver there waits up to 10 ms before it is even read. Real devices
// and the service a webhook calls are not one process either.
func runSimProc(ctx context.Context, bin string, o sim.Options) (sim.Report, error) {
	bin, err := edgeBinary(bin)
	if err != nil {
		return sim.Report{}, err
	}
	args := []string{"sim", "--json", "--broker", o.Broker, "--devices", strconv.Itoa(o.Devices),
		"--rate", strconv.FormatFloat(o.Rate, 'g', -1, 64), "--duration", o.Duration.String(),
		"--format", string(o.Format), "--qos", strconv.Itoa(int(o.QoS)), "--inflight", strconv.Itoa(o.Inflight),
		"--prefix", o.Prefix, "--seed", strconv.FormatUint(o.Seed, 10)}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	runErr := cmd.Run() // exits 1 when a publish failed, with the report all the same
	var rep sim.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		if runErr != nil {
			return rep, fmt.Errorf("sim: %w: %.500s", runErr, stderr.Bytes())
		}
		return rep, fmt.Errorf("sim report: %w", err)
	}
	return rep, nil
}
