// Package testcert makes a throwaway certificate authority and the server
// and client certificates it signs, for tests that check a TLS handshake on
// 127.0.0.1 (Temporal, NATS) with the files a config would name.
package testcert

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
)

// Files are PEM files in a test's temporary directory.
type Files struct {
	CA                    string // the CA certificate
	ServerCert, ServerKey string // for 127.0.0.1 and "localhost"
	ClientCert, ClientKey string // client-auth certificate, CN "runbook-engine"
	// Server is the server's tls.Config; it requires and verifies a client
	// certificate from the CA when built by New with mTLS.
	Server *tls.Config
}

// New makes the CA and both leaf certificates. With mTLS the server config
// demands a client certificate signed by the CA.
func New(t testing.TB, mTLS bool) Files {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "runbook test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	f := Files{CA: write(t, dir, "ca.pem", "CERTIFICATE", caDER)}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, name string) (cert, key string, pair tls.Certificate) {
		k := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses, tmpl.DNSNames = []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		cert, key = write(t, dir, name+".pem", "CERTIFICATE", der), write(t, dir, name+".key", "EC PRIVATE KEY", kd)
		pair, err = tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key, pair
	}
	var serverPair tls.Certificate
	f.ServerCert, f.ServerKey, serverPair = leaf(2, "localhost", x509.ExtKeyUsageServerAuth, "server")
	f.ClientCert, f.ClientKey, _ = leaf(3, "runbook-engine", x509.ExtKeyUsageClientAuth, "client")
	f.Server = &tls.Config{Certificates: []tls.Certificate{serverPair}, MinVersion: tls.VersionTLS12}
	if mTLS {
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		f.Server.ClientCAs, f.Server.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return f
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func write(t testing.TB, dir, name, typ string, der []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
