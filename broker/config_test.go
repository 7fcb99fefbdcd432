package broker

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const sampleYAML = `
listeners:
  - addr: 0.0.0.0:1883
  - id: secure
    addr: 0.0.0.0:8883
    tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem}
  - type: ws
    addr: 127.0.0.1:8083
allow_anonymous: false
users:
  - username: sensor
    password_hash: "$2a$10$8Ja/hSeXX9RoYj1Hgqp6FOw7BzWz8Gwh2MpI5fYclZDMB8VlxnVEa"
    acl:
      - {topic: "devices/%c/#", access: write}
acl:
  - {topic: "public/#", access: readwrite}
limits:
  max_packet_size: 65536
  max_clients: 50
  connect_timeout: 5s
  max_keepalive: 2m
`

func decodeStrict(t *testing.T, src string) Config {
	t.Helper()
	c := DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return c
}

func TestConfigYAML(t *testing.T) {
	c := decodeStrict(t, sampleYAML)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	d := c.withDefaults()
	ids := []string{d.Listeners[0].ID, d.Listeners[1].ID, d.Listeners[2].ID}
	if strings.Join(ids, ",") != "tcp,secure,ws" {
		t.Fatalf("listener ids %v", ids)
	}
	if d.Limits.MaxClients != 50 || d.Limits.ConnectTimeout != 5*time.Second ||
		d.Limits.MaxKeepalive != 2*time.Minute || d.Limits.MaxInflight != DefaultMaxInflight {
		t.Fatalf("limits %+v", d.Limits)
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte("limits: {max_clientz: 3}")))
	dec.KnownFields(true)
	if err := dec.Decode(new(Config)); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name, yaml, key string
	}{
		{"bad addr", "listeners: [{addr: nohost}]", "listeners[0].addr"},
		{"bad type", "listeners: [{type: udp, addr: ':1'}]", "listeners[0].type"},
		{"duplicate id", "listeners: [{addr: ':1'}, {id: tcp, addr: ':2'}]", "listeners[1].id"},
		{"tls without key", "listeners: [{addr: ':1', tls: {cert_file: c}}]", "listeners[0].tls"},
		{"plain password", "users: [{username: u, password_hash: hunter2}]", "users[0].password_hash"},
		{"empty username", "users: [{password_hash: x}]", "users[0].username"},
		{"bad filter", "acl: [{topic: 'a/#/b'}]", "acl[0].topic"},
		{"bad access", "acl: [{topic: a, access: all}]", "acl[0].access"},
		{"user acl", "users: [{username: u, password_hash: x, acl: [{topic: 'a+'}]}]", "users[0].acl[0].topic"},
		{"negative limit", "limits: {max_clients: -1}", "limits.max_clients"},
		{"huge packet", "limits: {max_packet_size: 300000000}", "limits.max_packet_size"},
		{"keepalive", "limits: {max_keepalive: 20h}", "limits.max_keepalive"},
		{"receive maximum", "limits: {receive_maximum: 70000}", "limits.receive_maximum"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeStrict(t, tc.yaml).Validate()
			if err == nil || !strings.Contains(err.Error(), tc.key+":") {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.key)
			}
			if _, nerr := New(decodeStrict(t, tc.yaml), newRecorder(), quietLog()); nerr == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if (Config{}).Validate() != nil {
		t.Fatal("zero Config must be valid")
	}
	c.SetTCPAddr("127.0.0.1:0")
	if c.Listeners[0].Addr != "127.0.0.1:0" {
		t.Fatalf("SetTCPAddr: %+v", c.Listeners)
	}
	var empty Config
	empty.SetTCPAddr("127.0.0.1:1")
	if len(empty.Listeners) != 1 || empty.Listeners[0].Addr != "127.0.0.1:1" {
		t.Fatalf("SetTCPAddr on empty: %+v", empty.Listeners)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	a := newAuth(Config{Users: []User{{Username: "u", PasswordHash: h}}})
	if a.authenticate("u", []byte("s3cret"), "", "") != "" {
		t.Fatal("hash does not verify")
	}
	if _, err := HashPassword(""); err == nil {
		t.Fatal("empty password hashed")
	}
}
