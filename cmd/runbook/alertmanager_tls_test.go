package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/audit/audittest"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/natsdev"
)

// Given the bridge configured with mTLS only (alertmanager.tls with
// client_ca_file, no token),
// When clients post the same firing alert,
// Then a client without a certificate, or with one from another CA, does
// not get through the handshake and stores nothing; two clients with
// certificates from the CA each get their alert stored (the caller is part
// of the dedup key, so one cannot suppress the other's), and each event
// names its caller's certificate.
func TestAlertmanagerBridgeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ns, err := natsdev.Start(natsdev.Options{StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Stop()
	events, err := connectEvents(context.Background(), eventSettings{natsURL: ns.URL(), auditKeys: audittest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	defer events.close()

	ca, caKey := amTestCA(t, "bridge-ca")
	other, otherKey := amTestCA(t, "other-ca")
	amWritePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	srvCert, srvKey := amIssue(t, ca, caKey, "127.0.0.1", true)
	amWritePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", srvCert)
	amWriteKey(t, filepath.Join(dir, "server-key.pem"), srvKey)

	am := config.Alertmanager{Addr: "127.0.0.1:0", TLS: &config.ServerTLS{
		CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem"), ClientCAFile: filepath.Join(dir, "ca.pem")}}
	srv, err := startAlertmanager(am, events.js, breach.Keyring{"k1": []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	if !strings.HasPrefix(srv.URL(), "https://") {
		t.Fatalf("bridge URL %s: want https", srv.URL())
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	client := func(cert *tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: roots}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	body := `{"version":"4","receiver":"keyresponse","alerts":[{"status":"firing",
		"labels":{"alertname":"KeyLeaked","kind":"key_leaked","bot":"bot-1"},"startsAt":"2026-11-27T08:58:00Z","fingerprint":"f1"}]}`
	post := func(c *http.Client) (int, error) {
		resp, err := c.Post(srv.URL()+"/alertmanager", "application/json", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	stored := func() uint64 {
		st, err := events.js.Stream(context.Background(), ingest.StreamBreach)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := st.Info(context.Background())
		return info.State.Msgs
	}

	strangerDER, strangerKey := amIssue(t, other, otherKey, "stranger", false)
	for name, c := range map[string]*http.Client{
		"no certificate":           client(nil),
		"another CA's certificate": client(&tls.Certificate{Certificate: [][]byte{strangerDER}, PrivateKey: strangerKey}),
	} {
		if code, err := post(c); err == nil {
			t.Errorf("%s: got through the handshake, status %d", name, code)
		}
	}
	if n := stored(); n != 0 {
		t.Fatalf("refused clients stored %d events", n)
	}
	for i, cn := range []string{"alertmanager-1", "alertmanager-2"} {
		der, key := amIssue(t, ca, caKey, cn, false)
		if code, err := post(client(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})); err != nil || code != http.StatusOK {
			t.Fatalf("%s: %d %v", cn, code, err)
		}
		if n := stored(); n != uint64(i+1) {
			t.Fatalf("after %s: %d events stored, want %d", cn, n, i+1)
		}
	}
	st, _ := events.js.Stream(context.Background(), ingest.StreamBreach)
	m, err := st.GetMsg(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := breach.Decode(m.Subject, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if caller, _ := ev.Data.Evidence["caller"].(string); !strings.HasPrefix(caller, "client-cert:sha256:") || !strings.Contains(caller, "alertmanager-2") {
		t.Fatalf("evidence.caller %q", caller)
	}
}

func amTestCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

var amSerial int64 = 100

// amIssue signs a leaf certificate: a server certificate for IP cn, or a
// client certificate with common name cn.
func amIssue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	amSerial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(amSerial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP(cn)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func amWritePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func amWriteKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	amWritePEM(t, path, "EC PRIVATE KEY", der)
}
