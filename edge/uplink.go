package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgevault/edgevault/api"
	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/codec"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/point"
	"github.com/edgevault/edgevault/routing"
	"github.com/edgevault/edgevault/rules"
	"github.com/edgevault/edgevault/uplink"
)

// openUplink opens the outbox and makes it the store's tail consumer, so
// every point stored from now on, and every point stored but not yet in a
// persisted batch when the node last stopped, goes to the cloud. Without
// cloud URLs a tail position left by an earlier configuration is dropped,
// so the store does not keep its WAL for a consumer that is gone.
func (n *Node) openUplink(prom prometheus.Registerer) error {
	if len(n.cfg.Uplink.URLs) == 0 {
		lost, err := n.db.DropTail()
		if err != nil {
			return fmt.Errorf("uplink: %w", err)
		}
		if lost > 0 {
			n.log.Warn("uplink not configured: dropped its unsent store position", "unsent_commits", lost)
		}
		return nil
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if f := n.cfg.Uplink.CAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("uplink.ca_file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("uplink.ca_file: %s: no PEM certificate", f)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	ob, err := uplink.Open(n.cfg.Uplink, kv.WithPrefix(n.db.Meta(), "uplink/"), uplink.Options{
		Client: &http.Client{Transport: transport}, Logger: n.log, Registerer: prom, Confirm: n.db.Confirm,
	})
	if err != nil {
		return err
	}
	if err := n.db.Tail(ob.Observe); err != nil {
		return fmt.Errorf("uplink: %w", err)
	}
	n.uplink = ob
	n.syncConfig()
	return nil
}

// ConfigKey is the metadata key under which the edge sends its declared
// contracts, rules and routing to the cloud (a replacement node restores
// them as a config file). Channels are not sent: they hold secrets.
const ConfigKey = "config/edge"

// SyncedConfig is the value of ConfigKey.
type SyncedConfig struct {
	Contracts []codec.Contract `json:"contracts,omitempty"`
	Rules     []rules.Rule     `json:"rules,omitempty"`
	Routing   []routing.Rule   `json:"routing,omitempty"`
}

func (n *Node) syncConfig() {
	b, err := json.Marshal(SyncedConfig{Contracts: n.cfg.Contracts, Rules: n.cfg.Rules, Routing: n.cfg.Routing})
	if err != nil {
		n.log.Warn("uplink: encode config", "err", err)
		return
	}
	syncedKV{n: n, kind: batch.KindRegistry}.send(batch.PutChange(ConfigKey, b))
}

// startUplink runs the outbox until stopUplink.
func (n *Node) startUplink() {
	if n.uplink == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.uplinkStop = cancel
	n.uplinkDone = make(chan struct{})
	go func() {
		defer close(n.uplinkDone)
		if err := n.uplink.Run(ctx); err != nil {
			n.log.Error("uplink: final flush", "err", err)
		}
	}()
}

// stopUplink stops sending and persists what is pending, before the store
// closes.
func (n *Node) stopUplink() {
	if n.uplinkStop == nil {
		return
	}
	n.uplinkStop()
	<-n.uplinkDone
}

// admit refuses new readings while the uplink's backlog is full under the
// block policy.
func (n *Node) admit() error {
	if n.uplink == nil {
		return nil
	}
	return n.uplink.Admit()
}

func (n *Node) markHigh(r *point.Reading) {
	if n.uplink != nil {
		n.uplink.MarkHigh(r.Device, r.Metric, r.Tags)
	}
}

// metaFor is the metadata store of one component under prefix, synced to
// the cloud as records of kind.
func (n *Node) metaFor(prefix, kind string) kv.Store {
	return n.synced(kv.WithPrefix(n.db.Meta(), prefix), prefix, kind)
}

// uplinkAPI is the API's view of the outbox; nil (503) without one.
func (n *Node) uplinkAPI() api.Uplink {
	if n.uplink == nil {
		return nil
	}
	return n.uplink
}

// synced returns s, or with an uplink a view of s whose every change is
// also sent to the cloud as a record of kind: the cloud keeps the edge's
// registry, rules, alerts, commands and dead letters as a change log that a
// replacement node restores from. name is the meta prefix s lives under.
// High-priority kinds (alerts, commands) are persisted in the outbox at
// once; the others with the next batch cut.
func (n *Node) synced(s kv.Store, name, kind string) kv.Store {
	if n.uplink == nil {
		return s
	}
	v := syncedKV{Store: s, n: n, name: name, kind: kind}
	if kind == batch.KindRegistry {
		v.quiet = &lastSeenThrottle{sent: map[string]sentDevice{}}
	}
	return v
}

// lastSeenRefresh is how often a device record whose only change is its
// last-seen time is sent to the cloud. The registry rewrites every active
// device's record every few seconds; sending each would grow the cloud's
// change log by a record per device per flush.
const lastSeenRefresh = 10 * time.Minute

// lastSeenThrottle drops registry changes that only move last_seen, unless
// the last one sent for that key is older than lastSeenRefresh.
type lastSeenThrottle struct {
	mu   sync.Mutex // guards sent
	sent map[string]sentDevice
}

type sentDevice struct {
	sig string // the value without last_seen
	at  time.Time
}

func (q *lastSeenThrottle) forget(key string) {
	q.mu.Lock()
	delete(q.sent, key)
	q.mu.Unlock()
}

// skip reports whether the put of value under key can stay home, and
// otherwise remembers it as sent.
func (q *lastSeenThrottle) skip(key string, value []byte, now time.Time) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(value, &m) != nil {
		return false
	}
	delete(m, "last_seen")
	b, _ := json.Marshal(m) // map keys are sorted: a stable signature
	q.mu.Lock()
	defer q.mu.Unlock()
	last, ok := q.sent[key]
	if ok && last.sig == string(b) && now.Sub(last.at) < lastSeenRefresh {
		return true
	}
	q.sent[key] = sentDevice{sig: string(b), at: now}
	return false
}

type syncedKV struct {
	kv.Store
	n          *Node
	name, kind string
	quiet      *lastSeenThrottle // registry only: nil sends every change
}

func (s syncedKV) Put(key, value []byte) error {
	if err := s.Store.Put(key, value); err != nil {
		return err
	}
	k := s.name + string(key)
	if s.quiet != nil && s.quiet.skip(k, value, time.Now()) {
		return nil
	}
	s.send(batch.PutChange(k, value))
	return nil
}

func (s syncedKV) Delete(key []byte) error {
	if err := s.Store.Delete(key); err != nil {
		return err
	}
	if s.quiet != nil {
		s.quiet.forget(s.name + string(key))
	}
	s.send(batch.Change{Op: batch.OpDelete, Key: s.name + string(key)})
	return nil
}

// send queues a record; the change is already durable locally, so a full
// backlog or a failure is logged and counted by the outbox, not returned.
func (s syncedKV) send(r batch.Change) {
	b, err := json.Marshal(r)
	if err != nil {
		s.n.log.Error("uplink: encode record", "key", r.Key, "err", err)
		return
	}
	ob := s.n.uplink
	switch s.kind {
	case batch.KindAlerts, batch.KindCommands:
		err = ob.EnqueueNow(s.kind, uplink.PriorityHigh, [][]byte{b})
	default:
		err = ob.Enqueue(s.kind, uplink.PriorityBulk, nil, [][]byte{b})
	}
	if err != nil {
		s.n.log.Warn("uplink: record not queued", "kind", s.kind, "key", r.Key, "err", err)
	}
}
