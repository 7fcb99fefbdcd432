package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key; the
// certificate is its own CA.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgevault e2e cloud"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cloud.crt"), filepath.Join(dir, "cloud.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestUplinkOverTLS: the edge verifies a cloud whose certificate its own
// CA signed (uplink.ca_file) and syncs over HTTPS.
func TestUplinkOverTLS(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	cl := startCloudYAML(t, t.TempDir(), fmt.Sprintf("tls: {cert: %q, key: %q}\n", cert, key))
	conf := edgeConfig(t, "https://"+cl.addr, fmt.Sprintf("  ca_file: %q\n", cert))
	edge := startEdge(t, t.TempDir(), "--config", conf)
	c := edge.client(t, "tls-pub")
	for i := range 20 {
		publish(t, c, "devices/tls/telemetry", 1, []byte(fmt.Sprintf(`{"ts": %d, "v": %d}`, 1_790_000_000_000+int64(i)*1000, i)))
	}
	eventually(t, 20*time.Second, "drained over TLS", func() bool {
		st := edge.uplink(t)
		return st.SentPoints >= 20 && st.BacklogBatches == 0 && st.PendingPoints == 0
	})

	// Without the CA the edge must refuse the cloud's certificate.
	untrusting := startEdge(t, t.TempDir(), "--config", edgeConfig(t, "https://"+cl.addr))
	publish(t, untrusting.client(t, "tls-pub2"), "devices/tls2/telemetry", 1, []byte(`{"v": 1}`))
	eventually(t, 20*time.Second, "certificate refused", func() bool {
		return strings.Contains(untrusting.uplink(t).LastError, "certificate")
	})
	if st := untrusting.uplink(t); st.SentPoints != 0 {
		t.Fatalf("sent %d points to an unverified cloud", st.SentPoints)
	}
}
