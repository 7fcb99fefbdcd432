package deadletter

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/edgevault/edgevault/kv"
)

// Filter selects letters for List, newest first.
type Filter struct {
	Topic  string    // MQTT filter (with + or #) or, without wildcards, a topic prefix; "" for all
	Since  time.Time // only letters at or after; zero for all
	Before uint64    // paging cursor: only letters with ID < Before; 0 for the newest
	Limit  int       // 0 means DefaultLimit; at most MaxLimit
}

// Validate reports why a filter cannot be used, wrapping ErrBadFilter.
func (f Filter) Validate() error {
	if f.Limit < 0 || f.Limit > MaxLimit {
		return fmt.Errorf("%w: limit must be 0..%d", ErrBadFilter, MaxLimit)
	}
	if err := validTopicFilter(f.Topic); err != nil {
		return fmt.Errorf("%w: topic: %v", ErrBadFilter, err)
	}
	return nil
}

// List returns up to Limit letters matching f, newest first, and the cursor
// to pass as Before for the next page (0 when there is none).
func (s *Store) List(f Filter) ([]Letter, uint64, error) {
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	ids, next := s.find(f)
	out := make([]Letter, 0, len(ids))
	for _, id := range ids {
		b, err := s.kv.Get(key(id))
		if errors.Is(err, kv.ErrNotFound) {
			continue // evicted since find
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read dead letter %d: %w", id, err)
		}
		l, err := decode(b)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, l)
	}
	return out, next, nil
}

// find returns the ids of one page, newest first, and the next cursor.
func (s *Store) find(f Filter) (ids []uint64, next uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := len(s.index)
	if f.Before != 0 {
		end = sort.Search(len(s.index), func(i int) bool { return s.index[i].id >= f.Before })
	}
	for i := end - 1; i >= 0; i-- {
		if !f.match(s.index[i]) {
			continue
		}
		if len(ids) == f.Limit { // a next page exists: it holds this one
			return ids, ids[len(ids)-1]
		}
		ids = append(ids, s.index[i].id)
	}
	return ids, 0
}

func (f Filter) match(e entry) bool {
	if !f.Since.IsZero() && e.time.Before(f.Since) {
		return false
	}
	if f.Topic == "" {
		return true
	}
	if !strings.ContainsAny(f.Topic, "+#") {
		return strings.HasPrefix(e.topic, f.Topic)
	}
	return MatchTopic(f.Topic, e.topic)
}

func validTopicFilter(filter string) error {
	levels := strings.Split(filter, "/")
	for i, lv := range levels {
		if strings.Contains(lv, "#") && (lv != "#" || i != len(levels)-1) {
			return errors.New("# must be a whole last level") // [MQTT-4.7.1-2]
		}
		if strings.Contains(lv, "+") && lv != "+" {
			return errors.New("+ must be a whole level") // [MQTT-4.7.1-3]
		}
	}
	return nil
}

// MatchTopic reports whether an MQTT topic filter matches a topic name.
func MatchTopic(filter, topic string) bool {
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// "a/#" also matches "a" [MQTT-4.7.1-2].
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}
