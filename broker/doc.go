// Package broker is edgevault's embedded MQTT broker: MQTT 3.1.1 and 5,
// QoS 0/1/2, retained messages, last will and persistent sessions, built on
// github.com/mochi-mqtt/server/v2 with users, ACLs, TLS and limits added.
//
// # Acknowledge after durable
//
// Every PUBLISH from a client goes to Handler.HandlePublish on the
// connection's goroutine before the broker answers it (mochi's
// processPublish calls the OnPublish hook before it writes PUBACK for QoS 1
// or PUBREC for QoS 2, and before it routes or retains the message).
// HandlePublish either refuses the message at once (an error) or accepts
// it, with a wait function that returns once it is durable. A refused
// message is neither acknowledged, retained nor routed:
//
//   - MQTT 5, QoS 1/2: PUBACK/PUBREC with reason code 0x97 (quota exceeded)
//     when the error wraps ErrOverloaded, 0x80 (unspecified error) otherwise.
//     The client owns the message again.
//   - MQTT 3.1.1, QoS 1/2: there is no failure code, so the connection is
//     closed (the last will is published, ClientDisconnected gets an error
//     wrapping ErrNotDurable). A client with a persistent session
//     (clean session false) retransmits the message after reconnecting.
//   - QoS 0: dropped, logged and counted (Broker.Rejected).
//
// An accepted message is acknowledged only after its wait returned nil
// (later.go): the connection holds everything written to the client after
// it until then, and waits for all of its client's accepted publishes
// before it reads from the socket again, so a burst of publishes shares one
// commit and one write of acknowledgements. When a wait fails, nothing held
// is sent and a QoS 1/2 publish ends the connection as above (MQTT 5
// included: its success code was already written); a QoS 0 one is counted.
// An accepted message is routed and retained when HandlePublish returns,
// possibly before it is durable. Deliveries to a client whose own publishes
// wait for durability are held too, up to 4 MiB; past that its connection
// is closed (logged) rather than the memory grown.
//
// One client's publishes reach the Handler in order; at most 64 wait at a
// time, so a slow Handler slows that client down (back-pressure through
// TCP), not the others. Messages from Broker.Publish and last wills do not
// go to the Handler.
//
// # Authentication
//
// Users carry bcrypt password hashes (HashPassword; `edgevault passwd`
// reads a password on stdin and prints its hash). A client is anonymous when
// it gives no username, or when no users are configured (the username is
// then only a label for %u). Anonymous clients are accepted when
// allow_anonymous is true; otherwise, like Mosquitto 2's local-only mode,
// only while no users are configured and only when both the listener address
// and the peer are loopback (127.0.0.0/8, ::1, localhost); a listener on
// 0.0.0.0 is not loopback, and Start logs a warning for it. Configuring users
// turns authentication on everywhere. A wrong password, an unknown username
// or a refused anonymous client gets CONNACK "bad username or password",
// with one log line naming the reason. Successful bcrypt checks are
// remembered (SHA-256 of the password) so reconnect storms stay cheap.
//
// # ACL rule
//
// Like Mosquitto with an acl_file: when no rule is configured anywhere,
// every client may read and write every topic (zero set-up). As soon as one
// rule exists (top-level or under any user), every action is denied unless a
// rule that applies to the client grants it. The rules that apply are the
// user's own acl list (none for an anonymous client) and the top-level acl
// list (Mosquitto's "pattern" lines). A rule grants write (publish) or read
// (subscribe, delivery) when its access includes that right and its filter,
// after substitution, matches the topic. %c is replaced by the client id and
// %u by the username; a rule whose placeholder would be empty or contain
// '+', '#' or '/' never matches, so a client cannot widen a rule by choosing
// its id. Filters match as in MQTT (+ one level, # the rest and its parent;
// wildcards in the first level do not match topics starting with '$';
// $share/group/ is stripped). A subscription is accepted when its filter
// overlaps a readable rule; each delivered message is then checked by its
// topic, so a wide subscription receives only what the rules allow. Denied
// QoS 0 publishes are dropped, denied QoS 1/2 publishes get reason 0x87
// (MQTT 5) or close the connection (3.1.1); denied subscriptions get 0x87
// (MQTT 5) / 0x80 (3.1.1) in SUBACK. Denied publishes never reach the
// Handler. Example:
//
//	users:
//	  - username: sensor
//	    password_hash: "$2a$10$..."   # edgevault passwd
//	    acl:
//	      - {topic: "devices/%c/#", access: write}
//	      - {topic: "cmd/%u/#", access: read}
//	acl:
//	  - {topic: "public/#", access: readwrite}
//
// # Limits and robustness
//
// No packet, however malformed, crashes or stalls the node; at worst it
// closes its own connection:
//
//   - max_packet_size (default 256 KiB) is checked on the fixed header of
//     every packet, the first CONNECT included, before the body is read or
//     buffered: a huge declared remaining length costs nothing.
//   - The first packet is read by the broker itself, not by mochi (which
//     allocates the declared length up front): it must be a CONNECT, and its
//     buffer grows only with the bytes that arrive. At most
//     max_pending_connections (default 256) connections may be
//     unauthenticated at once; one more is closed at once, with a log line.
//   - connect_timeout (default 10s) bounds the time to send CONNECT (mochi
//     sets no deadline before it); after CONNECT the keepalive deadline
//     (1.5 × keepalive) applies. max_keepalive (default 15m) replaces a
//     larger or zero keepalive; MQTT 5 clients are told (Server Keep
//     Alive), an idle MQTT 3.1.1 client asking for none is disconnected
//     after 1.5 × max_keepalive.
//   - max_clients (default 10000) authenticated clients; CONNECT beyond is
//     refused with 0x03 server unavailable (3.1.1) / 0x89 server busy (5).
//   - receive_maximum (default 256) unacknowledged QoS 1/2 publishes per
//     client, max_inflight (default 1024) outbound QoS 1/2 messages held per
//     client, max_pending_writes (default 1024) queued packets per client,
//     max_topic_length (default 1024 bytes) per topic or filter,
//     session_expiry (default 24h) for disconnected persistent sessions.
//   - A panic on a connection's goroutine (a decoder bug, in mochi or here)
//     is recovered, logged with its stack, and closes that connection only;
//     its will is published and ClientDisconnected gets ErrPanic. FuzzPackets
//     found one in mochi v2.7.9 (an MQTT 5 SUBSCRIBE whose filter lacks its
//     options byte indexes past the buffer); TestMochiSubscribePanic keeps it
//     covered.
//   - Once authenticated, a client may make the broker buffer one packet of
//     up to max_packet_size, so the worst case is max_clients ×
//     max_packet_size; lower either on small machines.
//
// # Metrics
//
// Broker.Stats exposes the counters, and Config.Registerer exports them as
// edgevault_mqtt_*: clients, pending_connections,
// connections_refused_total{reason=pending_limit|max_clients|
// not_authorized|invalid_connect|no_connect}, packets_too_large_total,
// publishes_rejected_total (not durable), panics_recovered_total,
// acl_denied_total{access=read|write}, retained_messages,
// inflight_messages, subscriptions, messages_received_total,
// messages_sent_total, messages_dropped_total{limit=max_pending_writes|
// max_inflight}, received_bytes_total, sent_bytes_total, sessions_restored
// and session_store_errors_total. Every limit that refuses or drops
// something has its counter.
//
// # Persistence across restarts
//
// With Config.Store set (the edge node passes its Pebble metadata store
// under "mqtt/"), what a restart keeps is:
//
//   - Persistent sessions: clients with clean session false (3.1.1) or a
//     session expiry interval (5), their username, protocol version and
//     expiry, the moment they disconnected, and their subscriptions.
//   - QoS 1/2 messages held for those sessions (sent and not yet
//     acknowledged, or queued while the client was offline), and the QoS 2
//     handshakes in progress with them; they are resent (DUP) when the
//     client reconnects with clean false.
//   - Retained messages.
//
// Records are written through as mochi's state changes (its storage hooks),
// each write durable when it returns (Pebble, synced). Clean sessions write
// nothing. Layout, every key under the store's prefix, values JSON in
// mochi's hooks/storage types:
//
//	c/<client id>                        session (+ "disconnected", unix s)
//	s/<uvarint len><client id><filter>   subscription
//	i/<uvarint len><client id><u16 BE>   message held, by packet id
//	r/<topic>                            retained message
//	alive                                u64 BE unix s, rewritten every 10 s
//
// Session expiry is honoured across the restart: a session is restored
// only if it disconnected less than its expiry (limits.session_expiry, or
// the MQTT 5 interval when shorter) ago, and is ended at that same
// deadline if its client does not come back, not restart + expiry. A
// session whose client was connected when the node died is dated by the
// last heartbeat (alive). Expired sessions, records that do not decode and
// records of sessions not restored are deleted at start.
//
// What a crash (kill -9, power loss) loses: nothing written before it,
// since every write is synced. Not kept at all: clean sessions, last wills
// (a restored session is offline; a reconnecting client sends a new will;
// a will delayed by an MQTT 5 will delay interval is not published after a
// restart), topic aliases, the MQTT 5 expiry of held messages (their
// creation time is kept, so the broker-wide maximum of one day still
// applies), and mochi's $SYS counters. A message is routed (and its copies
// for offline subscribers stored) independently of its own durability: a
// crash can lose the copies of an acknowledged message, or keep those of a
// message that was never acknowledged (its publisher resends it).
// Without a Store, sessions and retained messages survive a client's
// reconnect, not a restart.
package broker
