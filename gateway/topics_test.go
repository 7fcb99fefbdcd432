package gateway

import (
	"reflect"
	"testing"

	"github.com/edgevault/edgevault/broker"
)

func TestTopics(t *testing.T) {
	tests := []struct {
		name     string
		prefix   string
		topic    string
		wantGW   string
		wantUp   bool
		wantOK   bool
		up, down string
	}{
		{name: "default up", topic: "gw/hub1/up", wantGW: "hub1", wantUp: true, wantOK: true, up: "gw/hub1/up", down: "gw/hub1/down"},
		{name: "default down", topic: "gw/hub1/down", wantGW: "hub1", wantOK: true, up: "gw/hub1/up", down: "gw/hub1/down"},
		{name: "custom prefix", prefix: "site/a/gw", topic: "site/a/gw/hub1/up", wantGW: "hub1", wantUp: true, wantOK: true,
			up: "site/a/gw/hub1/up", down: "site/a/gw/hub1/down"},
		{name: "prefix with slash", prefix: "edge/", topic: "edge/x/down", wantGW: "x", wantOK: true, up: "edge/hub1/up", down: "edge/hub1/down"},
		{name: "other prefix", topic: "devices/hub1/up", up: "gw/hub1/up", down: "gw/hub1/down"},
		{name: "extra level", topic: "gw/hub1/up/x", up: "gw/hub1/up", down: "gw/hub1/down"},
		{name: "unknown direction", topic: "gw/hub1/sideways", up: "gw/hub1/up", down: "gw/hub1/down"},
		{name: "empty gateway", topic: "gw//up", up: "gw/hub1/up", down: "gw/hub1/down"},
		{name: "wildcard gateway", topic: "gw/+/up", up: "gw/hub1/up", down: "gw/hub1/down"},
		{name: "missing direction", topic: "gw/hub1", up: "gw/hub1/up", down: "gw/hub1/down"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := Topics{Prefix: tc.prefix}
			gw, up, ok := tp.Parse(tc.topic)
			if gw != tc.wantGW || up != tc.wantUp || ok != tc.wantOK {
				t.Fatalf("Parse(%q) = %q, %v, %v; want %q, %v, %v", tc.topic, gw, up, ok, tc.wantGW, tc.wantUp, tc.wantOK)
			}
			if got := tp.Up("hub1"); got != tc.up {
				t.Errorf("Up = %q, want %q", got, tc.up)
			}
			if got := tp.Down("hub1"); got != tc.down {
				t.Errorf("Down = %q, want %q", got, tc.down)
			}
		})
	}
}

func TestTopicsACL(t *testing.T) {
	got := Topics{}.ACL()
	want := []broker.ACLRule{{Topic: "gw/%u/up", Access: "write"}, {Topic: "gw/%u/down", Access: "read"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ACL = %+v, want %+v", got, want)
	}
	if got := (Topics{Prefix: "x"}).UpFilter(); got != "x/+/up" {
		t.Fatalf("UpFilter = %q", got)
	}
}

func TestValidGatewayID(t *testing.T) {
	for id, want := range map[string]bool{"hub-1": true, "": false, "a/b": false, "a+": false, "#": false, "$sys": false, "a\x00": false} {
		if got := ValidGatewayID(id); got != want {
			t.Errorf("ValidGatewayID(%q) = %v, want %v", id, got, want)
		}
	}
}
