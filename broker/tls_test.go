package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for a server (127.0.0.1) or client.
func (ca *testCA) issue(t *testing.T, serial int64, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	sc, sk := ca.issue(t, 2, true)
	cc, ck := ca.issue(t, 3, false)
	clientCert, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	tlsCfg := &TLS{CertFile: writeFile(t, dir, "s.pem", sc), KeyFile: writeFile(t, dir, "s.key", sk)}

	cases := []struct {
		name     string
		clientCA bool
		certs    []tls.Certificate
		ok       bool
	}{
		{"server auth", false, nil, true},
		{"mutual tls", true, []tls.Certificate{clientCert}, true},
		{"mutual tls without client cert", true, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lt := *tlsCfg
			if tc.clientCA {
				lt.ClientCAFile = writeFile(t, dir, "ca.pem", ca.pem)
			}
			cfg := testConfig()
			cfg.Listeners[0].TLS = &lt
			_, addr := startBroker(t, cfg, newRecorder())
			opts := paho.NewClientOptions().AddBroker("ssl://" + addr).SetClientID("tls").
				SetAutoReconnect(false).SetConnectTimeout(2 * time.Second).
				SetTLSConfig(&tls.Config{RootCAs: roots, Certificates: tc.certs, MinVersion: tls.VersionTLS12})
			c := paho.NewClient(opts)
			tok := c.Connect()
			ok := tok.WaitTimeout(3*time.Second) && tok.Error() == nil
			if ok {
				c.Disconnect(50)
			}
			if ok != tc.ok {
				t.Fatalf("connected = %v (%v), want %v", ok, tok.Error(), tc.ok)
			}
		})
	}
}

func TestTLSConfigErrors(t *testing.T) {
	cfg := testConfig()
	cfg.Listeners[0].TLS = &TLS{CertFile: "/nonexistent.pem", KeyFile: "/nonexistent.key"}
	b, err := New(cfg, newRecorder(), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err == nil {
		_ = b.Close()
		t.Fatal("Start with missing certificate succeeded")
	}
}
