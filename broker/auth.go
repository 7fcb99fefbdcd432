package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// access is a set of rights on a topic.
type access uint8

const (
	accessRead access = 1 << iota
	accessWrite
)

// rule is a parsed ACL rule.
type rule struct {
	filter string
	access access
}

// account is a parsed user.
type account struct {
	hash  []byte
	rules []rule
}

// auth decides who may connect and what they may do. It is safe for
// concurrent use.
type auth struct {
	allowAnonymous bool
	users          map[string]account
	global         []rule
	anyACL         bool // some rule exists: deny unless granted

	mu       sync.Mutex          // guards verified
	verified map[string][32]byte // username -> sha256 of a password bcrypt accepted
}

func newAuth(c Config) *auth {
	a := &auth{
		allowAnonymous: c.AllowAnonymous,
		users:          make(map[string]account, len(c.Users)),
		global:         parseRules(c.ACL),
		verified:       map[string][32]byte{},
	}
	a.anyACL = len(a.global) > 0
	for _, u := range c.Users {
		a.users[u.Username] = account{hash: []byte(u.PasswordHash), rules: parseRules(u.ACL)}
		a.anyACL = a.anyACL || len(u.ACL) > 0
	}
	return a
}

func parseRules(rs []ACLRule) []rule {
	out := make([]rule, 0, len(rs))
	for _, r := range rs {
		acc, _ := parseAccess(r.Access)
		out = append(out, rule{filter: r.Topic, access: acc})
	}
	return out
}

// anonymous reports whether a client with this username is anonymous: it
// gave no username, or no users are configured at all (then a username is
// only a label, as with Mosquitto without a password file).
func (a *auth) anonymous(username string) bool {
	return username == "" || len(a.users) == 0
}

// authenticate checks a CONNECT's credentials. It returns the reason of a
// refusal, "" when the client may connect.
func (a *auth) authenticate(username string, password []byte, listenerAddr, remoteAddr string) string {
	if a.anonymous(username) {
		if anonymousAllowed(a.allowAnonymous, len(a.users) > 0, listenerAddr, remoteAddr) {
			return ""
		}
		if len(a.users) > 0 {
			return "anonymous access refused: users are configured (set allow_anonymous: true to accept it)"
		}
		return "anonymous access refused on a non-loopback listener (configure mqtt.users or set allow_anonymous: true)"
	}
	acc, ok := a.users[username]
	if !ok {
		return "unknown username"
	}
	if a.passwordOK(username, acc.hash, password) {
		return ""
	}
	return "bad password"
}

// passwordOK runs bcrypt once per (user, password) and remembers a success
// by its SHA-256, so reconnect storms do not cost a bcrypt each.
func (a *auth) passwordOK(username string, hash, password []byte) bool {
	sum := sha256.Sum256(password)
	a.mu.Lock()
	known, ok := a.verified[username]
	a.mu.Unlock()
	if ok && subtle.ConstantTimeCompare(known[:], sum[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, password) != nil {
		return false
	}
	a.mu.Lock()
	a.verified[username] = sum
	a.mu.Unlock()
	return true
}

// anonymousAllowed is the Mosquitto 2 rule: anonymous clients are accepted
// when allow_anonymous is set; otherwise only in zero set-up mode (no users
// configured) and when both the listener and the peer are on loopback (a
// listener on 0.0.0.0 or a LAN address is not loopback).
func anonymousAllowed(allowAnonymous, haveUsers bool, listenerAddr, remoteAddr string) bool {
	if allowAnonymous {
		return true
	}
	return !haveUsers && isLoopback(listenerAddr) && isLoopback(remoteAddr)
}

// isLoopback reports whether host:port (or a bare host) names a loopback
// address: 127.0.0.0/8, ::1 or localhost. An empty host (all interfaces) is
// not loopback.
func isLoopback(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// allowed evaluates the ACL for one client: see doc.go. topic is a topic name
// (publish, delivery) or a subscription filter (subscribe).
func (a *auth) allowed(clientID, username, topic string, want access) bool {
	if !a.anyACL {
		return true
	}
	var own []rule
	if !a.anonymous(username) {
		own = a.users[username].rules
	}
	topic = stripShare(topic)
	return grants(own, clientID, username, topic, want) || grants(a.global, clientID, username, topic, want)
}

func grants(rules []rule, clientID, username, topic string, want access) bool {
	for _, r := range rules {
		if r.access&want == 0 {
			continue
		}
		f, ok := substitute(r.filter, clientID, username)
		if ok && overlaps(f, topic) {
			return true
		}
	}
	return false
}

// substitute replaces %c and %u in filter. A rule whose placeholder would
// be empty or would inject a wildcard or a level separator never matches.
func substitute(filter, clientID, username string) (string, bool) {
	if !strings.Contains(filter, "%") {
		return filter, true
	}
	for _, p := range []struct{ ph, v string }{{"%c", clientID}, {"%u", username}} {
		if !strings.Contains(filter, p.ph) {
			continue
		}
		if p.v == "" || strings.ContainsAny(p.v, "+#/") {
			return "", false
		}
		filter = strings.ReplaceAll(filter, p.ph, p.v)
	}
	return filter, true
}

// stripShare turns "$share/group/filter" into "filter".
func stripShare(f string) string {
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return rest[i+1:]
		}
	}
	return f
}

// overlaps reports whether some topic name matches both filters; with b a
// topic name it is plain MQTT matching of b against a. Wildcards in the
// first level never match a topic starting with '$' [MQTT-4.7.2-1].
func overlaps(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	if strings.HasPrefix(a, "$") != strings.HasPrefix(b, "$") {
		if wildFirst(as[0]) || wildFirst(bs[0]) {
			return false
		}
	}
	for i := 0; ; i++ {
		switch {
		case i == len(as) && i == len(bs):
			return true
		case i < len(as) && as[i] == "#", i < len(bs) && bs[i] == "#":
			return true
		case i == len(as) || i == len(bs):
			return false
		case as[i] == "+" || bs[i] == "+" || as[i] == bs[i]:
			continue
		default:
			return false
		}
	}
}

func wildFirst(level string) bool { return level == "+" || level == "#" }

// validFilter reports whether f is a syntactically valid MQTT topic filter.
func validFilter(f string) bool {
	if f == "" {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}
