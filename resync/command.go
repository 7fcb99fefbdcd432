package resync

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// IsCloudRestore reports whether restore arguments ask for this package
// (--from-cloud) rather than for a backup file.
func IsCloudRestore(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "-from-cloud" || a == "--from-cloud" ||
			len(a) > 12 && (a[:12] == "-from-cloud=" || a[:13] == "--from-cloud=")
	})
}

// Command runs `edgevault restore --from-cloud URL ...`.
func Command(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore --from-cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	var from, to string
	fs.StringVar(&o.URL, "from-cloud", "", "cloud base URL, e.g. https://cloud.example:8443")
	fs.StringVar(&o.Edge, "edge", "", "edge id whose data to restore")
	fs.StringVar(&o.Token, "token", "", "cloud admin token (or EDGEVAULT_CLOUD_TOKEN)")
	fs.StringVar(&o.Data, "data", "./data", "data directory to create (must be empty or absent)")
	fs.StringVar(&from, "from", "", "history from (RFC 3339 or Unix ms; default: all)")
	fs.StringVar(&to, "to", "", "history to (RFC 3339 or Unix ms; default: now)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Token == "" {
		o.Token = lookupEnv("EDGEVAULT_CLOUD_TOKEN")
	}
	var err error
	if o.From, err = parseTime(from); err != nil {
		fmt.Fprintf(stderr, "restore: --from: %v\n", err)
		return 2
	}
	if o.To, err = parseTime(to); err != nil {
		fmt.Fprintf(stderr, "restore: --to: %v\n", err)
		return 2
	}
	if o.URL == "" || o.Edge == "" {
		fmt.Fprintln(stderr, "restore: --from-cloud and --edge are required")
		return 2
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sum, err := Restore(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "restore: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(sum)
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

func parseTime(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("want RFC 3339 or Unix ms, got %q", s)
	}
	return t.UnixMilli(), nil
}

var lookupEnv = func(k string) string { return os.Getenv(k) }
