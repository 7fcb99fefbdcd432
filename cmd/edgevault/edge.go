package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edgevault/edgevault/config"
	"github.com/edgevault/edgevault/edge"
	"github.com/edgevault/edgevault/internal/memlimit"
)

const edgeUsage = `usage: edgevault edge [flags]

Runs the edge node with embedded defaults; no external service is needed.
Flags override the config file; environment variables EDGEVAULT_CONFIG,
EDGEVAULT_DATA, EDGEVAULT_MQTT and EDGEVAULT_HTTP override the defaults of
the flags of the same name.

`

func edgeCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, edgeUsage); fs.PrintDefaults() }
	cfgPath := fs.String("config", os.Getenv("EDGEVAULT_CONFIG"), "YAML config `file` (strict: unknown keys are errors)")
	data := fs.String("data", os.Getenv("EDGEVAULT_DATA"), "data `dir` (default ./data)")
	mqttAddr := fs.String("mqtt", os.Getenv("EDGEVAULT_MQTT"), "MQTT TCP listener `addr` (default 127.0.0.1:1883)")
	httpAddr := fs.String("http", os.Getenv("EDGEVAULT_HTTP"), "REST API listener `addr` (default 127.0.0.1:8080)")
	logFormat := fs.String("log-format", "", "log format: text or json (overrides log.format)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "edgevault edge: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "edgevault edge: %v\n", err)
		return 2
	}
	if *data != "" {
		cfg.Data = *data
	}
	if *mqttAddr != "" {
		cfg.MQTT.SetTCPAddr(*mqttAddr)
	}
	if *httpAddr != "" {
		cfg.HTTP.Addr = *httpAddr
	}
	if *logFormat != "" {
		cfg.Log.Format = *logFormat
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "edgevault edge: invalid configuration:\n%v\n", err)
		return 2
	}
	return runEdge(cfg, stderr)
}

func runEdge(cfg config.Config, stderr io.Writer) int {
	log := newLogger(cfg.Log, stderr)
	if os.Getenv("GOMEMLIMIT") == "" && cfg.MemoryLimitBytes > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go memlimit.Keep(ctx, cfg.MemoryLimitBytes, time.Second, log)
	}
	node, err := edge.Open(cfg, log)
	if err != nil {
		log.Error("cannot open edge node", "err", err)
		return 1
	}
	if err := node.Start(); err != nil {
		log.Error("cannot start edge node", "err", err)
		node.Close()
		return 1
	}
	log.Info("edge node ready", "mqtt", node.MQTTAddr(), "http", node.HTTPAddr(), "data", cfg.Data, "version", version)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("shutting down", "signal", s.String())
	if err := node.Close(); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	level, _ := config.ParseLevel(c.Level) // validated with the config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
