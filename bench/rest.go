package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrNoCompact means the node has no compaction endpoint.
var ErrNoCompact = errors.New("compact endpoint not available")

// queryPage is the body of GET /api/v1/query for raw points.
type queryPage struct {
	Points []json.RawMessage `json:"points"`
	Next   json.RawMessage   `json:"next"`
}

// nextFrom is the from of the next page: the API gives next as the path
// and query of the next page (null when done); a bare number is taken as
// the from itself. 0 means done.
func nextFrom(next json.RawMessage) (int64, error) {
	var path string
	var n json.Number
	switch {
	case len(next) == 0 || string(next) == "null":
		return 0, nil
	case json.Unmarshal(next, &path) == nil:
		u, err := url.Parse(path)
		if err != nil {
			return 0, fmt.Errorf("next %q: %w", path, err)
		}
		return strconv.ParseInt(u.Query().Get("from"), 10, 64)
	case json.Unmarshal(next, &n) == nil:
		return n.Int64()
	}
	return 0, fmt.Errorf("next %s: want a path, a number or null", next)
}

// countSeries counts the points of one series in [from, to) over REST,
// following the next pages.
func countSeries(ctx context.Context, c *http.Client, base, device, metric string, from, to int64) (int64, error) {
	return countSeriesAt(ctx, c, base+"/api/v1/query", device, metric, from, to)
}

// countSeriesAt is countSeries against a query endpoint with the edge
// API's parameters and answer, such as the cloud's
// /api/v1/edges/{edge}/query.
func countSeriesAt(ctx context.Context, c *http.Client, endpoint, device, metric string, from, to int64) (int64, error) {
	var n int64
	for from != 0 {
		q := url.Values{"device": {device}, "metric": {metric}, "from": {strconv.FormatInt(from, 10)},
			"to": {strconv.FormatInt(to, 10)}, "limit": {"1000000"}}
		var page queryPage
		if err := getJSON(ctx, c, endpoint+"?"+q.Encode(), &page); err != nil {
			return n, fmt.Errorf("query %s/%s: %w", device, metric, err)
		}
		n += int64(len(page.Points))
		next, err := nextFrom(page.Next)
		if err != nil {
			return n, fmt.Errorf("query %s/%s: %w", device, metric, err)
		}
		if next != 0 && next <= from {
			return n, fmt.Errorf("query %s/%s: next %d does not advance from %d", device, metric, next, from)
		}
		from = next
	}
	return n, nil
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("status %s: %s", resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// compact asks the node to compact its store and waits for the answer.
func compact(ctx context.Context, c *http.Client, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/admin/compact", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return ErrNoCompact
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("compact: status %s: %s", resp.Status, b)
	}
	return nil
}
