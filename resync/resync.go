package resync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgevault/edgevault/batch"
	"github.com/edgevault/edgevault/edge"
	"github.com/edgevault/edgevault/kv"
	"github.com/edgevault/edgevault/store"
	"github.com/edgevault/edgevault/uplink"
)

// ErrNotEmpty refuses to restore over existing data.
var ErrNotEmpty = errors.New("resync: data directory is not empty")

// Options say what to restore from where.
type Options struct {
	URL    string // cloud base URL
	Edge   string // edge id
	Token  string // cloud admin token
	Data   string // target data directory (empty or absent)
	From   int64  // history from (Unix ms, inclusive); 0 means all
	To     int64  // history to (Unix ms, exclusive); 0 means now
	Client *http.Client
	Logger *slog.Logger
}

// Summary reports what was restored.
type Summary struct {
	Records  int    `json:"records"`  // metadata changes replayed
	Series   int    `json:"series"`   // series with restored points
	Points   int    `json:"points"`   // points appended
	NextSeq  uint64 `json:"next_seq"` // first batch sequence of the new node
	Config   string `json:"config"`   // path of restored.yaml, "" if none
	Duration string `json:"duration"` // wall time
}

// Restore fills o.Data from the cloud.
func Restore(ctx context.Context, o Options) (Summary, error) {
	start := time.Now()
	if o.Client == nil {
		o.Client = &http.Client{Timeout: time.Minute}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.To == 0 {
		o.To = time.Now().Add(time.Minute).UnixMilli()
	}
	if err := checkEmpty(o.Data); err != nil {
		return Summary{}, err
	}
	c := client{o: o}
	next, err := c.nextSeq(ctx)
	if err != nil {
		return Summary{}, err
	}
	db, err := store.Open(filepath.Join(o.Data, "store"), store.Options{Logger: o.Logger})
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{NextSeq: next}
	err = c.restore(ctx, db, &sum)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	sum.Duration = time.Since(start).Round(time.Millisecond).String()
	return sum, err
}

func (c client) restore(ctx context.Context, db *store.DB, sum *Summary) error {
	meta := db.Meta()
	if err := uplink.SetNextSeq(kv.WithPrefix(meta, "uplink/"), sum.NextSeq); err != nil {
		return err
	}
	var cfg json.RawMessage
	for _, kind := range []string{batch.KindRegistry, batch.KindAlerts, batch.KindCommands, batch.KindDeadLetters} {
		n, err := c.records(ctx, kind, func(r batch.Change) error {
			if r.Key == edge.ConfigKey {
				cfg = r.Value
				return nil
			}
			return apply(meta, r)
		})
		sum.Records += n
		if err != nil {
			return fmt.Errorf("restore %s: %w", kind, err)
		}
	}
	if cfg != nil {
		path, err := writeConfig(c.o.Data, cfg)
		if err != nil {
			return err
		}
		sum.Config = path
	}
	return c.history(ctx, db, sum)
}

// apply replays one metadata change.
func apply(meta kv.Store, r batch.Change) error {
	switch r.Op {
	case batch.OpPut:
		return meta.Put([]byte(r.Key), r.Bytes())
	case batch.OpDelete:
		return meta.Delete([]byte(r.Key))
	}
	return fmt.Errorf("record %q: unknown op %q", r.Key, r.Op)
}

func checkEmpty(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("resync: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("%w: %s", ErrNotEmpty, dir)
	}
	return nil
}

// writeConfig turns the synced config into DIR/restored.yaml.
func writeConfig(dir string, raw json.RawMessage) (string, error) {
	var sc edge.SyncedConfig
	if err := json.Unmarshal(raw, &sc); err != nil {
		return "", fmt.Errorf("synced config: %w", err)
	}
	out, err := yaml.Marshal(struct {
		Contracts any `yaml:"contracts,omitempty"`
		Rules     any `yaml:"rules,omitempty"`
		Routing   any `yaml:"routing,omitempty"`
	}{sc.Contracts, sc.Rules, sc.Routing})
	if err != nil {
		return "", fmt.Errorf("synced config: %w", err)
	}
	path := filepath.Join(dir, "restored.yaml")
	head := "# contracts, rules and routing of the edge node, restored from the cloud\n"
	return path, os.WriteFile(path, append([]byte(head), out...), 0o600)
}

// client talks to the cloud's REST API.
type client struct{ o Options }

func (c client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := strings.TrimSuffix(c.o.URL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.Token)
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("GET %s: decode: %w", path, err)
	}
	return nil
}

// nextSeq is one past the highest batch sequence the cloud acknowledged.
func (c client) nextSeq(ctx context.Context) (uint64, error) {
	var edges []struct {
		ID       string `json:"id"`
		MaxAcked uint64 `json:"max_acked"`
	}
	if err := c.get(ctx, "/api/v1/admin/edges", nil, &edges); err != nil {
		return 0, fmt.Errorf("resync: %w", err)
	}
	for _, e := range edges {
		if e.ID == c.o.Edge {
			return e.MaxAcked + 1, nil
		}
	}
	return 0, fmt.Errorf("resync: edge %q is not registered in the cloud", c.o.Edge)
}

// records pages through the synced state of one kind (the latest value of
// every key the old node synced) and hands each key to fn as a put.
func (c client) records(ctx context.Context, kind string, fn func(batch.Change) error) (int, error) {
	after, n := "", 0
	for {
		q := url.Values{"kind": {kind}, "limit": {"10000"}}
		if after != "" {
			q.Set("after", after)
		}
		var page struct {
			Items []batch.Change `json:"items"` // key, value, value_b64 (no op: every key is live)
			Next  *string        `json:"next"`
		}
		if err := c.get(ctx, "/api/v1/edges/"+url.PathEscape(c.o.Edge)+"/state", q, &page); err != nil {
			return n, err
		}
		for _, ch := range page.Items {
			ch.Op = batch.OpPut
			if err := fn(ch); err != nil {
				return n, err
			}
			n++
		}
		if page.Next == nil {
			return n, nil
		}
		after = *page.Next
	}
}
