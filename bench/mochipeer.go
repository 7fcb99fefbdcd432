package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// MochiRun is the name of the runs through a bare mochi-mqtt broker.
const MochiRun = "mochi"

// mochiPeerCommand is `edgevault bench mochi-peer`: a bare mochi-mqtt
// broker, the library the edge node's broker is built on, with one hook
// that lets every client in and nothing else: nothing decoded, stored,
// evaluated or recorded. `bench rules --mochi-peer` runs it, as its own
// process, under the same loads and probes as the node: the floor of a Go
// broker of this design on the machine, beside Mosquitto's.
func mochiPeerCommand(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlagSet("mochi-peer", "Runs a bare mochi-mqtt broker (every client allowed, nothing stored) until stopped:\n"+
		"the Go peer of `bench rules --mochi-peer`.", stderr)
	listen := fs.String("listen", "127.0.0.1:1883", "MQTT listener `host:port`")
	if code, done := parse(fs, args); done {
		return code
	}
	// Warnings and errors only: the peer logs nothing per client.
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := serveMochi(ctx, *listen, quiet); err != nil {
		fmt.Fprintf(stderr, "bench mochi-peer: %v\n", err)
		return 1
	}
	return 0
}

// serveMochi runs the bare broker on listen until ctx ends.
func serveMochi(ctx context.Context, listen string, log *slog.Logger) error {
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	s := mqtt.New(&mqtt.Options{Logger: log})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		return err
	}
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "tcp", Address: listen})); err != nil {
		return err
	}
	if err := s.Serve(); err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// startMochi runs `bin bench mochi-peer` on a free port and waits until it
// accepts connections.
func startMochi(ctx context.Context, bin string) (*peer, error) {
	bin, err := edgeBinary(bin)
	if err != nil {
		return nil, err
	}
	return startPeer("mochi", func(p *peer, port int) error {
		p.addr = "127.0.0.1:" + strconv.Itoa(port)
		var err error
		if p.proc, err = startProc("mochi", bin, "bench", "mochi-peer", "--listen", p.addr); err != nil {
			return err
		}
		return p.waitTCP(ctx, p.addr, 10*time.Second)
	})
}
