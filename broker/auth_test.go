package broker

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestAnonymousAllowed(t *testing.T) {
	cases := []struct {
		name           string
		allow, users   bool
		listener, peer string
		want           bool
	}{
		{"loopback v4", false, false, "127.0.0.1:1883", "127.0.0.1:5000", true},
		{"loopback 127/8", false, false, "127.0.1.1:1883", "127.0.1.1:5000", true},
		{"loopback v6", false, false, "[::1]:1883", "[::1]:5000", true},
		{"localhost", false, false, "localhost:1883", "127.0.0.1:5000", true},
		{"loopback with users", false, true, "127.0.0.1:1883", "127.0.0.1:5000", false},
		{"all interfaces", false, false, ":1883", "127.0.0.1:5000", false},
		{"0.0.0.0 from lan", false, false, "0.0.0.0:1883", "192.168.1.9:5000", false},
		{"lan listener", false, false, "192.168.1.2:1883", "192.168.1.9:5000", false},
		{"allow_anonymous", true, false, "0.0.0.0:1883", "203.0.113.5:5000", true},
		{"allow_anonymous with users", true, true, "0.0.0.0:1883", "203.0.113.5:5000", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := anonymousAllowed(tc.allow, tc.users, tc.listener, tc.peer); got != tc.want {
				t.Fatalf("anonymousAllowed(%v, %q, %q) = %v, want %v", tc.allow, tc.listener, tc.peer, got, tc.want)
			}
		})
	}
}

func TestOverlaps(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"a/b", "a/b", true},
		{"a/+", "a/b", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/+", "a/b/c", false},
		{"a/b", "a/c", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/+/c", "a/#", true},
		{"a/b/c", "a/+", false},
		{"a/b", "a/b/c", false},
	}
	for _, tc := range cases {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			if got := overlaps(tc.a, tc.b); got != tc.want {
				t.Fatalf("overlaps(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestACL(t *testing.T) {
	hash, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Users: []User{
			{Username: "dev", PasswordHash: hash, ACL: []ACLRule{
				{Topic: "devices/%c/#", Access: "write"},
				{Topic: "cmd/%u/#", Access: "read"},
			}},
			{Username: "admin", PasswordHash: hash},
		},
		ACL: []ACLRule{{Topic: "public/#", Access: "readwrite"}},
	}
	a := newAuth(cfg)
	cases := []struct {
		name, client, user, topic string
		want                      access
		ok                        bool
	}{
		{"own device write", "d1", "dev", "devices/d1/temp", accessWrite, true},
		{"other device write", "d1", "dev", "devices/d2/temp", accessWrite, false},
		{"own device read", "d1", "dev", "devices/d1/temp", accessRead, false},
		{"own commands read", "d1", "dev", "cmd/dev/reboot", accessRead, true},
		{"own commands subscribe", "d1", "dev", "cmd/dev/#", accessRead, true},
		{"other commands", "d1", "dev", "cmd/other/reboot", accessRead, false},
		{"wide subscribe overlaps", "d1", "dev", "cmd/+/reboot", accessRead, true},
		{"global rule", "d1", "dev", "public/x", accessWrite, true},
		{"wildcard client id", "+", "dev", "devices/x/temp", accessWrite, false},
		{"slash client id", "a/b", "dev", "devices/a/b/t", accessWrite, false},
		{"shared subscription", "d1", "dev", "$share/g/cmd/dev/#", accessRead, true},
		{"user without rules gets globals", "a1", "admin", "devices/d1/temp", accessWrite, false},
		{"user without rules, global", "a1", "admin", "public/y", accessRead, true},
		{"anonymous gets globals only", "x", "", "public/y", accessWrite, true},
		{"anonymous denied", "x", "", "devices/x/t", accessWrite, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.allowed(tc.client, tc.user, tc.topic, tc.want); got != tc.ok {
				t.Fatalf("allowed = %v, want %v", got, tc.ok)
			}
		})
	}
	if !newAuth(Config{}).allowed("c", "", "any/topic", accessWrite) {
		t.Fatal("no ACL configured must allow everything")
	}
}

func TestAuthenticate(t *testing.T) {
	hash, err := HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	a := newAuth(Config{Users: []User{{Username: "u", PasswordHash: hash}}})
	cases := []struct {
		name, user, pw, listener string
		ok                       bool
	}{
		{"good password", "u", "secret", "0.0.0.0:1883", true},
		{"good password cached", "u", "secret", "0.0.0.0:1883", true},
		{"bad password", "u", "nope", "0.0.0.0:1883", false},
		{"bad password after cache", "u", "secret2", "127.0.0.1:1883", false},
		{"unknown user", "x", "secret", "127.0.0.1:1883", false},
		{"anonymous with users", "", "", "127.0.0.1:1883", false},
	}
	open := newAuth(Config{})
	if open.authenticate("", nil, "127.0.0.1:1883", "127.0.0.1:4000") != "" {
		t.Fatal("anonymous on loopback without users refused")
	}
	if open.authenticate("label", nil, "0.0.0.0:1883", "10.0.0.1:4000") == "" {
		t.Fatal("anonymous on a non-loopback listener accepted")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason := a.authenticate(tc.user, []byte(tc.pw), tc.listener, "127.0.0.1:4000")
			if (reason == "") != tc.ok {
				t.Fatalf("authenticate: reason %q, want ok=%v", reason, tc.ok)
			}
		})
	}
}

// TestAuthEndToEnd runs users and ACLs through a real client.
func TestAuthEndToEnd(t *testing.T) {
	hash, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Users = []User{{Username: "dev", PasswordHash: hash, ACL: []ACLRule{
		{Topic: "devices/%c/#", Access: "write"},
		{Topic: "cmd/%u/#", Access: "read"},
	}}}
	rec := newRecorder()
	b, addr := startBroker(t, cfg, rec)

	bad := paho.NewClient(pahoOpts(addr, "d1").SetUsername("dev").SetPassword("wrong"))
	if tok := bad.Connect(); tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
		bad.Disconnect(0)
		t.Fatal("bad password accepted")
	}
	anon := paho.NewClient(pahoOpts(addr, "anon"))
	if tok := anon.Connect(); tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
		anon.Disconnect(0)
		t.Fatal("anonymous client accepted while users are configured")
	}

	c := connect(t, pahoOpts(addr, "d1").SetUsername("dev").SetPassword("pw"))
	if tok := c.Publish("devices/d1/temp", 1, false, "21"); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
		t.Fatalf("allowed publish: %v", tok.Error())
	}
	if m := rec.messages(); len(m) != 1 || m[0].Topic != "devices/d1/temp" {
		t.Fatalf("handler got %v", m)
	}
	sub := c.Subscribe("cmd/other/#", 1, nil)
	sub.WaitTimeout(3 * time.Second)
	if code := sub.(*paho.SubscribeToken).Result()["cmd/other/#"]; code != 0x80 {
		t.Fatalf("denied subscribe returned %#x, want 0x80", code)
	}
	got := make(chan paho.Message, 1)
	c.Subscribe("cmd/dev/#", 1, func(_ paho.Client, m paho.Message) { got <- m }).Wait()
	if err := b.Publish("cmd/dev/reboot", []byte("now"), false, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(3 * time.Second):
		t.Fatal("allowed subscription got nothing")
	}
	// QoS 0 to another device's topic is dropped without reaching the handler.
	c.Publish("devices/d2/temp", 0, false, "1").Wait()
	c.Publish("devices/d1/temp", 1, false, "22").Wait()
	if m := rec.messages(); len(m) != 2 || string(m[1].Payload) != "22" {
		t.Fatalf("denied publish reached the handler: %v", m)
	}
}
