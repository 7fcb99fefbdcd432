package broker

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"

	"github.com/edgevault/edgevault/kv"
)

// Key prefixes of the session store (layout in doc.go). Client ids inside
// sub and inflight keys are length-prefixed (uvarint), so a prefix scan for
// one client never matches another whose id merely starts the same way.
const (
	pfxClient   = "c/" // c/<id> -> clientRecord
	pfxSub      = "s/" // s/<len><id><filter> -> storage.Subscription
	pfxInflight = "i/" // i/<len><id><packet id, 2 bytes BE> -> storage.Message
	pfxRetained = "r/" // r/<topic> -> storage.Message
	keyAlive    = "alive"
)

// clientRecord is a persistent session. Disconnected is when its client
// went away (unix seconds); 0 while it was connected, in which case a
// restart takes the last heartbeat as the moment it was lost.
type clientRecord struct {
	storage.Client
	Disconnected int64 `json:"disconnected,omitempty"`
}

// sessionStore is a mochi storage hook over a kv.Store: it writes
// persistent sessions, their subscriptions and inflight messages, and the
// retained messages as they change, and hands them back to mochi when the
// broker starts. Clean sessions cost no write.
type sessionStore struct {
	mqtt.HookBase
	kv        kv.Store
	srv       *mqtt.Server
	log       *slog.Logger
	now       func() time.Time
	maxExpiry int64        // limits.session_expiry, seconds
	errs      atomic.Int64 // failed writes
	// restoredCount is the number of sessions loaded at start.
	restoredCount atomic.Int64

	mu       sync.Mutex // guards the following
	restored map[string]*restoredSession
	held     map[string]struct{} // inflight keys in the store
	loaded   system.Info         // counts of what was restored, for StoredSysInfo
}

// restoredSession is a session loaded at start whose client has not come
// back yet. mochi restarts the expiry clock of loaded sessions at the
// restart, so the hook expires them itself at their original deadline.
type restoredSession struct {
	deadline int64        // unix seconds
	cl       *mqtt.Client // mochi's offline client, once loadClients made it
}

func newSessionStore(s kv.Store, srv *mqtt.Server, cfg Config, log *slog.Logger) *sessionStore {
	return &sessionStore{
		kv: s, srv: srv, log: log, now: cfg.Now,
		maxExpiry: int64(cfg.Limits.SessionExpiry / time.Second),
		restored:  map[string]*restoredSession{},
		held:      map[string]struct{}{},
	}
}

func (h *sessionStore) ID() string { return "edgevault-sessions" }

func (h *sessionStore) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect,
		mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnRetainMessage, mqtt.OnRetainedExpired,
		mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped, mqtt.OnClientExpired,
		mqtt.OnSysInfoTick, mqtt.StoredClients, mqtt.StoredSubscriptions,
		mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages, mqtt.StoredSysInfo,
	}, []byte{b})
}

// persistent reports whether cl's session outlives its connection: clean
// session false (3.1.1) or a session expiry interval (5) [MQTT-3.1.2-23].
// The fields are read one by one: Properties holds an atomic will flag.
func persistent(cl *mqtt.Client) bool {
	if cl.Net.Inline {
		return false
	}
	if cl.Properties.ProtocolVersion == 5 {
		return cl.Properties.Props.SessionExpiryInterval > 0
	}
	return !cl.Properties.Clean
}

func lenPrefixed(prefix, id string) []byte {
	k := append([]byte(prefix), binary.AppendUvarint(nil, uint64(len(id)))...)
	return append(k, id...)
}

func clientKey(id string) []byte { return []byte(pfxClient + id) }

func subKey(id, filter string) []byte { return append(lenPrefixed(pfxSub, id), filter...) }

func inflightKey(id string, packetID uint16) []byte {
	return binary.BigEndian.AppendUint16(lenPrefixed(pfxInflight, id), packetID)
}

func retainedKey(topic string) []byte { return []byte(pfxRetained + topic) }

// OnSessionEstablish drops what is stored of a session the client starts
// afresh, before mochi lets anything be routed to the new one.
func (h *sessionStore) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if pk.Connect.Clean {
		h.purge(cl.ID)
	}
}

// OnSessionEstablished records a persistent session, or makes sure nothing
// is left of one the client no longer asks for.
func (h *sessionStore) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.mu.Lock()
	delete(h.restored, cl.ID)
	h.mu.Unlock()
	if persistent(cl) {
		h.putClient(cl, 0)
		return
	}
	h.purge(cl.ID)
}

// OnDisconnect stamps a persistent session with the time its client left,
// or drops an ending one. During start, mochi calls it for each session it
// loaded (Conn is nil): those are remembered for their own expiry.
func (h *sessionStore) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	switch {
	case cl.Net.Inline:
	case cl.Net.Conn == nil:
		h.mu.Lock()
		if rs, ok := h.restored[cl.ID]; ok {
			rs.cl = cl
		}
		h.mu.Unlock()
	case cl.IsTakenOver() || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver):
		// the new connection owns the session and its record
	case expire || !persistent(cl):
		h.purge(cl.ID)
	default:
		h.putClient(cl, h.now().Unix())
	}
}

// putClient writes cl's session. The topic alias maximum is left out on
// purpose: a restored offline client with aliases would queue messages
// whose topic only the old connection's alias table knows.
func (h *sessionStore) putClient(cl *mqtt.Client, disconnected int64) {
	p := &cl.Properties.Props
	rec := clientRecord{
		Client: storage.Client{
			ID: cl.ID, T: storage.ClientKey, Listener: cl.Net.Listener,
			Username: cl.Properties.Username, Clean: cl.Properties.Clean,
			ProtocolVersion: cl.Properties.ProtocolVersion,
			Properties: storage.ClientProperties{
				SessionExpiryInterval:     p.SessionExpiryInterval,
				SessionExpiryIntervalFlag: p.SessionExpiryIntervalFlag,
				ReceiveMaximum:            p.ReceiveMaximum,
				MaximumPacketSize:         p.MaximumPacketSize,
				RequestProblemInfo:        p.RequestProblemInfo,
				RequestProblemInfoFlag:    p.RequestProblemInfoFlag,
				RequestResponseInfo:       p.RequestResponseInfo,
				User:                      p.User,
			},
		},
		Disconnected: disconnected,
	}
	h.put(clientKey(cl.ID), rec)
}

func (h *sessionStore) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if !persistent(cl) {
		return
	}
	for i, f := range pk.Filters {
		if i >= len(codes) || codes[i] >= packets.ErrUnspecifiedError.Code {
			continue // refused: mochi did not subscribe it
		}
		h.put(subKey(cl.ID, f.Filter), storage.Subscription{
			T: storage.SubscriptionKey, Client: cl.ID, Filter: f.Filter, Qos: codes[i],
			Identifier: f.Identifier, RetainHandling: f.RetainHandling,
			RetainAsPublished: f.RetainAsPublished, NoLocal: f.NoLocal,
		})
	}
}

func (h *sessionStore) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if !persistent(cl) {
		return
	}
	for _, f := range pk.Filters {
		h.del(subKey(cl.ID, f.Filter))
	}
}

// OnQosPublish stores a QoS 1/2 message held for a persistent session,
// connected or not, and each later state of its flow (PUBREC, PUBREL). The
// PUBACK mochi holds for an instant while it acknowledges a QoS 1 publish
// from the client is not worth two synced writes.
func (h *sessionStore) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, _ int) {
	if !persistent(cl) || pk.FixedHeader.Type == packets.Puback {
		return
	}
	m := message(pk, storage.InflightKey)
	m.Client, m.PacketID, m.Sent = cl.ID, pk.PacketID, sent
	k := inflightKey(cl.ID, pk.PacketID)
	h.put(k, m)
	h.mu.Lock()
	h.held[string(k)] = struct{}{}
	h.mu.Unlock()
}

// OnQosComplete deletes a resolved message, when one was stored. A session
// taken over keeps its messages: mochi moves them to the new connection,
// then clears the old one's, and that must not delete them.
func (h *sessionStore) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if !persistent(cl) || cl.IsTakenOver() {
		return
	}
	h.delHeld(inflightKey(cl.ID, pk.PacketID))
}

func (h *sessionStore) delHeld(k []byte) {
	h.mu.Lock()
	_, ok := h.held[string(k)]
	delete(h.held, string(k))
	h.mu.Unlock()
	if ok {
		h.del(k)
	}
}

func (h *sessionStore) OnQosDropped(cl *mqtt.Client, pk packets.Packet) { h.OnQosComplete(cl, pk) }

// OnRetainMessage follows mochi's retained set: r is 1 when pk is now
// retained, -1 when it cleared a retained message, 0 when nothing changed.
func (h *sessionStore) OnRetainMessage(_ *mqtt.Client, pk packets.Packet, r int64) {
	switch r {
	case 1:
		h.put(retainedKey(pk.TopicName), message(pk, storage.RetainedKey))
	case -1:
		h.del(retainedKey(pk.TopicName))
	}
}

func (h *sessionStore) OnRetainedExpired(topic string) { h.del(retainedKey(topic)) }

func (h *sessionStore) OnClientExpired(cl *mqtt.Client) { h.purge(cl.ID) }

// OnSysInfoTick (every 10 s) writes the heartbeat that dates sessions
// whose client was connected when the node died, and expires restored
// sessions that reached their deadline.
func (h *sessionStore) OnSysInfoTick(*system.Info) {
	now := h.now().Unix()
	if err := h.kv.Put([]byte(keyAlive), binary.BigEndian.AppendUint64(nil, uint64(now))); err != nil {
		h.failed("write", []byte(keyAlive), err)
	}
	h.expireRestored(now)
}

func message(pk packets.Packet, typ string) storage.Message {
	p := pk.Properties
	return storage.Message{
		T: typ, FixedHeader: pk.FixedHeader, TopicName: pk.TopicName, Payload: pk.Payload,
		Origin: pk.Origin, Created: pk.Created,
		Properties: storage.MessageProperties{
			PayloadFormat: p.PayloadFormat, PayloadFormatFlag: p.PayloadFormatFlag,
			MessageExpiryInterval: p.MessageExpiryInterval, ContentType: p.ContentType,
			ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData,
			SubscriptionIdentifier: p.SubscriptionIdentifier, User: p.User,
		},
	}
}

// purge deletes everything stored of session id. It writes only what
// exists, so the clean sessions that never stored anything cost reads only.
func (h *sessionStore) purge(id string) {
	var keys [][]byte
	if _, err := h.kv.Get(clientKey(id)); err == nil {
		keys = append(keys, clientKey(id))
	}
	for _, p := range [][]byte{lenPrefixed(pfxSub, id), lenPrefixed(pfxInflight, id)} {
		err := h.kv.Scan(p, func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
		if err != nil {
			h.failed("scan", p, err)
		}
	}
	h.mu.Lock()
	for _, k := range keys {
		delete(h.held, string(k))
	}
	h.mu.Unlock()
	for _, k := range keys {
		h.del(k)
	}
}

// put and del log and count a failed write: the session keeps working in
// memory, and only a restart would show the loss.
func (h *sessionStore) put(key []byte, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = h.kv.Put(key, b)
	}
	if err != nil {
		h.failed("write", key, err)
	}
}

func (h *sessionStore) del(key []byte) {
	if err := h.kv.Delete(key); err != nil && !errors.Is(err, kv.ErrNotFound) {
		h.failed("delete", key, err)
	}
}

func (h *sessionStore) failed(op string, key []byte, err error) {
	h.errs.Add(1)
	h.log.Error("mqtt session store "+op+" failed", "key", string(key), "error", err)
}
