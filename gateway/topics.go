package gateway

import (
	"strings"

	"github.com/edgevault/edgevault/broker"
	"github.com/edgevault/edgevault/point"
)

// DefaultPrefix is the first topic level of every gateway topic.
const DefaultPrefix = "gw"

// Topics names the topic pair of each gateway: <prefix>/<gateway>/up and
// <prefix>/<gateway>/down. The zero value uses DefaultPrefix.
type Topics struct {
	// Prefix is one or more topic levels without wildcards (default "gw").
	Prefix string
}

func (t Topics) prefix() string {
	if t.Prefix == "" {
		return DefaultPrefix
	}
	return strings.TrimSuffix(t.Prefix, "/")
}

// Up is the topic a gateway publishes on.
func (t Topics) Up(gw string) string { return t.prefix() + "/" + gw + "/up" }

// Down is the topic the platform publishes to a gateway on.
func (t Topics) Down(gw string) string { return t.prefix() + "/" + gw + "/down" }

// UpFilter is the subscription that receives every gateway's messages.
func (t Topics) UpFilter() string { return t.prefix() + "/+/up" }

// Parse returns the gateway of a gateway topic and whether it is the up
// topic; ok is false for any other topic or an invalid gateway id.
func (t Topics) Parse(topic string) (gw string, up bool, ok bool) {
	rest, found := strings.CutPrefix(topic, t.prefix()+"/")
	if !found {
		return "", false, false
	}
	gw, dir, found := strings.Cut(rest, "/")
	if !found || !ValidGatewayID(gw) {
		return "", false, false
	}
	switch dir {
	case "up":
		return gw, true, true
	case "down":
		return gw, false, true
	}
	return "", false, false
}

// ValidGatewayID reports whether id can name a gateway: one topic level,
// valid as a point name, without MQTT wildcards.
func ValidGatewayID(id string) bool {
	return point.ValidName(id) == nil && !strings.ContainsAny(id, "/+#") && id[0] != '$'
}

// ACL returns the broker rules (for the top-level acl list, or for each
// gateway user) that let a client whose username is its gateway id publish
// only on its own up topic and read only its own down topic. The broker
// never matches a %u rule for an empty username or one containing / + #,
// so a gateway cannot widen them.
func (t Topics) ACL() []broker.ACLRule {
	return []broker.ACLRule{
		{Topic: t.Up("%u"), Access: "write"},
		{Topic: t.Down("%u"), Access: "read"},
	}
}
