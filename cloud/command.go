package cloud

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"
)

// Command runs `edgevault cloud [--config file] [--data dir] [--http addr]
// [--postgres url]` until SIGINT or SIGTERM and returns the exit code.
func Command(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdout, stderr, nil)
}

// run is Command with a context; ready, if not nil, receives the bound
// address once the server listens.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) int {
	fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML configuration file")
	data := fs.String("data", "", "data directory (overrides the config)")
	addr := fs.String("http", "", "listen address (overrides the config)")
	pg := fs.String("postgres", "", "store in PostgreSQL at this URL (overrides the config's storage)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := loadFlags(*cfgPath, *data, *addr, *pg)
	if err != nil {
		log.Error("cloud: config", "err", err)
		return 2
	}
	if err := serve(ctx, cfg, log, stdout, ready); err != nil {
		log.Error("cloud: stopped", "err", err)
		return 1
	}
	return 0
}

func loadFlags(path, data, addr, pg string) (Config, error) {
	var cfg Config
	var err error
	if path != "" {
		if cfg, err = LoadConfig(path); err != nil {
			return cfg, err
		}
	} else if cfg, err = ParseConfig(nil); err != nil {
		return cfg, err
	}
	if data != "" {
		cfg.Data = data
	}
	if addr != "" {
		cfg.HTTP = addr
	}
	if pg != "" {
		cfg.Storage.Backend, cfg.Storage.Postgres.URL = BackendPostgres, pg
		return cfg, cfg.Storage.validate()
	}
	return cfg, nil
}

func serve(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer, ready chan<- string) error {
	srv, err := Open(cfg, Options{Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLS.Cert != "" {
			errc <- hs.ServeTLS(ln, cfg.TLS.Cert, cfg.TLS.Key)
			return
		}
		errc <- hs.Serve(ln)
	}()
	fmt.Fprintf(stdout, "edgevault cloud listening on %s\n", ln.Addr())
	if cfg.AdminToken == "" && cfg.ReadToken == "" {
		log.Warn("cloud: no admin_token or read_token: the query routes are open to anyone who reaches this address")
	}
	log.Info("cloud: listening", "addr", ln.Addr().String(), "storage", cfg.Storage.Backend,
		"data", cfg.Data, "tls", cfg.TLS.Cert != "")
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
