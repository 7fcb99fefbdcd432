// Command edgevault runs the edge node, the device simulator and the
// benchmarks: one binary, one subcommand per job.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/edgevault/edgevault/backup"
	"github.com/edgevault/edgevault/bench"
	"github.com/edgevault/edgevault/cloud"
	"github.com/edgevault/edgevault/resync"
	"github.com/edgevault/edgevault/sim"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: edgevault <command> [flags]

commands:
  edge      run the edge node (MQTT broker, local store, REST API)
  cloud     run the cloud service (ingest from edge nodes, query and statistics)
  sim       simulate devices publishing over MQTT
  bench     run the reproducible benchmarks (see BENCHMARKS.md)
  passwd    print the bcrypt hash of a password for the mqtt.users config
  backup    download a consistent snapshot of a running node, optionally encrypted
  restore   verify a backup and unpack it as the data directory of a stopped node;
            with --from-cloud URL --edge ID, rebuild a data directory from the cloud
  version   print the version

Run 'edgevault <command> -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "edge":
		return edgeCommand(rest, stdout, stderr)
	case "cloud":
		return cloud.Command(rest, stdout, stderr)
	case "sim":
		return sim.Command(rest, stdout, stderr)
	case "bench":
		return bench.Command(rest, stdout, stderr)
	case "restore":
		if resync.IsCloudRestore(rest) {
			return resync.Command(rest, stdout, stderr)
		}
		return backup.Command(args, stdout, stderr)
	case "backup":
		return backup.Command(args, stdout, stderr)
	case "passwd":
		return passwdCommand(rest, os.Stdin, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "edgevault", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "edgevault: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}
