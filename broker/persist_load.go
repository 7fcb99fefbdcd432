package broker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
)

// mochi's Server.Serve calls the Stored* methods once, in this order:
// clients, subscriptions, inflight messages, retained messages, sys info.
// A record that does not decode, a session past its expiry and anything
// belonging to a session not restored are deleted, not loaded.

// StoredClients returns the persistent sessions not yet expired.
func (h *sessionStore) StoredClients() ([]storage.Client, error) {
	now := h.now().Unix()
	alive := h.lastAlive(now)
	var out []storage.Client
	var expired []string
	var corrupt [][]byte
	err := h.kv.Scan([]byte(pfxClient), func(k, v []byte) error {
		id := string(k[len(pfxClient):])
		var rec clientRecord
		if err := json.Unmarshal(v, &rec); err != nil || rec.ID != id {
			corrupt = append(corrupt, bytes.Clone(k))
			return nil
		}
		deadline := h.deadline(rec, alive)
		if deadline <= now || !persistentRecord(rec.Client) {
			expired = append(expired, id)
			return nil
		}
		h.mu.Lock()
		h.restored[id] = &restoredSession{deadline: deadline}
		h.mu.Unlock()
		out = append(out, rec.Client)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load mqtt sessions: %w", err)
	}
	h.drop("session", corrupt)
	for _, id := range expired {
		h.purge(id)
	}
	h.restoredCount.Store(int64(len(out)))
	if len(out)+len(expired) > 0 {
		h.log.Info("mqtt sessions restored", "sessions", len(out), "expired", len(expired))
	}
	return out, nil
}

// deadline is when a stored session expires (unix s). A session whose
// client was connected when the node stopped is dated by the heartbeat.
func (h *sessionStore) deadline(rec clientRecord, alive int64) int64 {
	left := rec.Disconnected
	if left == 0 {
		left = alive
	}
	return left + h.expiry(rec.Client)
}

// expiry is the session expiry of a record in seconds, as mochi applies it.
func (h *sessionStore) expiry(c storage.Client) int64 {
	if c.ProtocolVersion == 5 && c.Properties.SessionExpiryIntervalFlag {
		return min(int64(c.Properties.SessionExpiryInterval), h.maxExpiry)
	}
	return h.maxExpiry
}

func persistentRecord(c storage.Client) bool {
	if c.ProtocolVersion == 5 {
		return c.Properties.SessionExpiryInterval > 0
	}
	return !c.Clean
}

// lastAlive is the last heartbeat before the restart, or now without one.
func (h *sessionStore) lastAlive(now int64) int64 {
	v, err := h.kv.Get([]byte(keyAlive))
	if err != nil || len(v) != 8 {
		return now
	}
	return min(int64(binary.BigEndian.Uint64(v)), now)
}

func (h *sessionStore) isRestored(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.restored[id]
	return ok
}

// StoredSubscriptions returns the subscriptions of restored sessions.
func (h *sessionStore) StoredSubscriptions() ([]storage.Subscription, error) {
	var out []storage.Subscription
	var stale [][]byte
	err := h.kv.Scan([]byte(pfxSub), func(k, v []byte) error {
		var s storage.Subscription
		if json.Unmarshal(v, &s) != nil || !h.isRestored(s.Client) || !bytes.Equal(k, subKey(s.Client, s.Filter)) {
			stale = append(stale, bytes.Clone(k))
			return nil
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load mqtt subscriptions: %w", err)
	}
	h.drop("subscription", stale)
	h.loaded.Subscriptions = int64(len(out))
	return out, nil
}

// StoredInflightMessages returns the QoS 1/2 messages held for restored
// sessions.
func (h *sessionStore) StoredInflightMessages() ([]storage.Message, error) {
	var out []storage.Message
	var stale [][]byte
	err := h.kv.Scan([]byte(pfxInflight), func(k, v []byte) error {
		var m storage.Message
		if json.Unmarshal(v, &m) != nil || !h.isRestored(m.Client) || !bytes.Equal(k, inflightKey(m.Client, m.PacketID)) {
			stale = append(stale, bytes.Clone(k))
			return nil
		}
		h.mu.Lock()
		h.held[string(k)] = struct{}{}
		h.mu.Unlock()
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load mqtt inflight messages: %w", err)
	}
	h.drop("inflight message", stale)
	h.loaded.Inflight = int64(len(out))
	return out, nil
}

// StoredRetainedMessages returns the retained messages whose MQTT 5
// message expiry has not passed.
func (h *sessionStore) StoredRetainedMessages() ([]storage.Message, error) {
	now := h.now().Unix()
	var out []storage.Message
	var stale [][]byte
	err := h.kv.Scan([]byte(pfxRetained), func(k, v []byte) error {
		var m storage.Message
		err := json.Unmarshal(v, &m)
		exp := int64(m.Properties.MessageExpiryInterval)
		if err != nil || len(m.Payload) == 0 || (exp > 0 && m.Created+exp < now) {
			stale = append(stale, bytes.Clone(k))
			return nil
		}
		m.TopicName = string(k[len(pfxRetained):])
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load mqtt retained messages: %w", err)
	}
	h.drop("retained message", stale)
	h.loaded.Retained = int64(len(out))
	return out, nil
}

// StoredSysInfo gives mochi the counts of what was restored, so its
// retained, inflight and subscription gauges start right.
func (h *sessionStore) StoredSysInfo() (storage.SystemInfo, error) {
	info := h.loaded
	info.Version = mqtt.Version // mochi ignores sys info without one
	return storage.SystemInfo{T: storage.SysInfoKey, ID: storage.SysInfoKey, Info: info}, nil
}

func (h *sessionStore) drop(what string, keys [][]byte) {
	for _, k := range keys {
		h.del(k)
	}
	if len(keys) > 0 {
		h.log.Warn("mqtt session store: records dropped at load", "kind", what, "count", len(keys))
	}
}

// expireRestored ends the restored sessions past their deadline whose
// client has not come back: what mochi's own expiry would have done had
// the node not restarted.
func (h *sessionStore) expireRestored(now int64) {
	var due []*restoredSession
	var ids []string
	h.mu.Lock()
	for id, rs := range h.restored {
		if rs.deadline <= now {
			due, ids = append(due, rs), append(ids, id)
			delete(h.restored, id)
		}
	}
	h.mu.Unlock()
	for i, rs := range due {
		// A client reconnecting at this very moment could still lose its new
		// session here (mochi's client map has no compare-and-delete); its
		// next reconnect finds no session, as it would have a second earlier.
		cur, ok := h.srv.Clients.Get(ids[i])
		if ok && cur != rs.cl {
			continue // the client came back: the session is its own again
		}
		if ok {
			h.srv.UnsubscribeClient(cur)
			cur.ClearInflights()
			h.srv.Clients.Delete(ids[i])
		}
		h.purge(ids[i])
		h.log.Info("mqtt session expired", "client", ids[i])
	}
}
