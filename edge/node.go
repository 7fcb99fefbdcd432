// Package edge wires an edge node together: the local store, the device
// registry, the dead-letter store, the parsing contracts, the ingest
// pipeline, the MQTT broker and the REST API. It owns their lifecycle: open in
// dependency order, close in reverse, so that nothing acknowledged is lost.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgevault/edgevault/alerts"
	"github.com/edgevault/edgevault/api"
	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/broker"
	"github.com/edgevault/edgevault/codec"
	"github.com/edgevault/edgevault/config"
	"github.com/edgevault/edgevault/deadletter"
	"github.com/edgevault/edgevault/ingest"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/notify"
	"github.com/edgevault/edgevault/registry"
	"github.com/edgevault/edgevault/routing"
	"github.com/edgevault/edgevault/rules"
	"github.com/edgevault/edgevault/store"
	"github.com/edgevault/edgevault/uplink"
)

// Node is a running edge node.
type Node struct {
	cfg    config.Config
	log    *slog.Logger
	db     *store.DB
	reg    *registry.Registry
	dead   *deadletter.Store
	codecs *codec.Set
	rules  *rules.Service
	// derived carries the derived points of the rules to waitDerived;
	// derivedDone is closed when it has seen the last of them.
	derived     chan derivedBatch
	derivedDone chan struct{}
	alerts      *alerts.History
	notify      *notify.Dispatcher
	router      *routing.Router
	fwd         *forwarder
	gw          *gateways
	pipe        *ingest.Pipeline
	mqtt        *broker.Broker
	http        *http.Server
	httpLn      net.Listener

	uplink     *uplink.Outbox // nil without cloud URLs
	uplinkStop context.CancelFunc
	uplinkDone chan struct{}

	stop chan struct{}
	wg   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store and builds every component; Start makes it listen.
func Open(cfg config.Config, log *slog.Logger) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, stop: make(chan struct{}), derived: make(chan derivedBatch, derivedQueue)}
	prom := prometheus.NewRegistry()
	prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	n.db, err = store.Open(filepath.Join(cfg.Data, "store"), storeOptions(cfg, log, prom))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err != nil {
			n.db.Close()
		}
	}()
	if err := n.openUplink(prom); err != nil {
		return nil, err
	}
	meta := n.db.Meta()
	n.reg, err = registry.New(n.metaFor("registry/", batch.KindRegistry), registry.Options{
		OfflineAfter: cfg.Registry.OfflineAfter, Logger: log, Registerer: prom,
	})
	if err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	n.dead, err = deadletter.New(n.metaFor("deadletter/", batch.KindDeadLetters), deadletter.Options{
		MaxEntries: cfg.DeadLetters.MaxEntries, Registerer: prom,
	})
	if err != nil {
		return nil, fmt.Errorf("open dead letters: %w", err)
	}
	if n.codecs, err = codec.NewSet(cfg.AllContracts()); err != nil {
		return nil, fmt.Errorf("contracts: %w", err)
	}
	if err := n.openAnalytics(meta, prom); err != nil {
		return nil, err
	}
	if err := n.openGateways(meta); err != nil {
		return nil, err
	}
	n.pipe = ingest.New(n.codecs, n.db, n.dead, n.reg, ingest.Options{
		Line: cfg.LineProtocol, Logger: log, Registerer: prom, OnQueued: n.rules.Observe,
		Router: n.router, Forward: n.fwd.enqueue, DeviceType: n.deviceType,
		Admit: n.admit, MarkHigh: n.markHigh,
	})
	cfg.MQTT.Store, cfg.MQTT.Registerer = kv.WithPrefix(meta, "mqtt/"), prom
	if n.mqtt, err = broker.New(cfg.MQTT, brokerHandler{n}, log.With("component", "mqtt")); err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	n.http = &http.Server{
		Handler:           n.handler(prom),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return n, nil
}

func storeOptions(cfg config.Config, log *slog.Logger, prom prometheus.Registerer) store.Options {
	opts := store.DefaultOptions()
	opts.Fsync = store.FsyncInterval
	if cfg.Store.Fsync == "always" {
		opts.Fsync = store.FsyncAlways
	}
	opts.FsyncInterval = cfg.Store.FsyncInterval
	opts.Retention = cfg.Store.Retention
	opts.RollupRetention = cfg.Store.RollupRetention
	opts.CacheSize = cfg.Store.CacheBytes
	opts.Logger = log.With("component", "store")
	return opts
}

func (n *Node) handler(prom *prometheus.Registry) http.Handler {
	h := api.New(api.Deps{
		Query:         n.db,
		Devices:       n.reg,
		DeadLetters:   n.dead,
		Contracts:     contracts{n.codecs},
		Lines:         n.pipe,
		Admin:         n,
		Rules:         n.rules,
		Alerts:        alertDesk{n},
		Notifications: n.notify,
		Commands:      commandDesk{n.gw},
		Uplink:        n.uplinkAPI(),
		Metrics:       promhttp.HandlerFor(prom, promhttp.HandlerOpts{}),
		Health:        n.health,
		Logger:        n.log.With("component", "api"),
		MaxBodyBytes:  n.cfg.HTTP.MaxBodyBytes,
		Token:         n.cfg.HTTP.Token,
	})
	if !n.cfg.HTTP.Pprof {
		return h
	}
	prof := http.NewServeMux()
	prof.HandleFunc("/debug/pprof/", pprof.Index)
	prof.HandleFunc("/debug/pprof/profile", pprof.Profile)
	prof.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/", api.RequireToken(n.cfg.HTTP.Token, prof))
	mux.Handle("/", h)
	return mux
}

// Start binds the MQTT and HTTP listeners and starts the background loops.
func (n *Node) Start() error {
	ln, err := net.Listen("tcp", n.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	n.httpLn = ln
	if err := n.mqtt.Start(); err != nil {
		ln.Close()
		return fmt.Errorf("mqtt: %w", err)
	}
	n.wg.Add(2)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("http server stopped", "err", err)
		}
	}()
	n.derivedDone = make(chan struct{})
	go n.waitDerived(n.derivedDone)
	n.rules.Start()
	n.fwd.start()
	if err := n.gw.cmds.Resume(); err != nil {
		n.log.Error("resume gateway commands", "err", err)
	}
	n.startUplink()
	go n.housekeeping()
	return nil
}

// housekeeping applies the registry's last-seen timeout and persists its
// lazily kept state.
func (n *Node) housekeeping() {
	defer n.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastFlush := time.Now()
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
			n.reg.Tick()
			n.gw.tick()
			if time.Since(lastFlush) >= 10*time.Second {
				lastFlush = time.Now()
				if err := n.reg.Flush(); err != nil {
					n.log.Warn("registry flush", "err", err)
				}
			}
		}
	}
}

// MQTTAddr and HTTPAddr are the bound addresses (useful with port 0).
func (n *Node) MQTTAddr() string {
	addrs := n.mqtt.Addrs()
	if a, ok := addrs["tcp"]; ok {
		return a
	}
	for _, l := range n.cfg.MQTT.Listeners {
		if a, ok := addrs[l.ID]; ok {
			return a
		}
	}
	return ""
}

func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

func (n *Node) health() error {
	select {
	case <-n.stop:
		return errors.New("shutting down")
	default:
		return nil
	}
}

// Compact seals and merges the store's blocks (admin API, benchmarks).
func (n *Node) Compact(ctx context.Context) error { return n.db.Compact(ctx) }

// Close stops accepting traffic, then persists and closes in reverse order.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.stop)
		var errs []error
		if err := n.mqtt.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close mqtt: %w", err))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close http: %w", err))
		}
		n.wg.Wait()
		n.rules.Close()
		close(n.derived)
		if n.derivedDone != nil {
			<-n.derivedDone
		}
		n.fwd.close()
		if err := n.notify.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close notifications: %w", err))
		}
		if err := n.reg.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close registry: %w", err))
		}
		n.stopUplink()
		if err := n.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store: %w", err))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// brokerHandler feeds the broker's publishes into the ingest pipeline and
// its connection events into the registry.
type brokerHandler struct{ n *Node }

func (h brokerHandler) HandlePublish(m broker.Message) (wait func() error, err error) {
	if gw, up, ok := h.n.gw.topics.Parse(m.Topic); ok {
		if !up {
			return nil, nil // the platform's own down traffic, or a stray publish on it
		}
		return h.n.gw.handleUp(gw, m)
	}
	return h.n.pipe.HandleAsync(ingest.Message{ClientID: m.ClientID, Topic: m.Topic, Payload: m.Payload, Received: m.Received})
}

func (h brokerHandler) ClientConnected(clientID, username, remote string) {
	h.n.reg.ClientConnected(clientID)
}

func (h brokerHandler) ClientDisconnected(clientID string, err error) {
	h.n.reg.ClientDisconnected(clientID)
}
