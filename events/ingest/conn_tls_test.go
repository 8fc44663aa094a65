package ingest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/keyresponse/runbook/integrations/testcert"
)

// ConnOptions.TLS reaches the wire: a nats-server that demands TLS and a
// client certificate (mTLS) accepts the connection, sees the handshake, and
// refuses the same client without it.
func TestConnectTLS(t *testing.T) {
	certs := testcert.New(t, true)
	s := authServer(t, &server.Options{TLSConfig: certs.Server, TLS: true, TLSVerify: true, TLSTimeout: 5,
		Users: []*server.User{{Username: "engine", Password: "pw-1"}}})
	pem, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	pair, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	// The URL is nats://: TLS is required because the option says so, not
	// because of the scheme.
	nc, err := Connect(ConnOptions{URL: s.ClientURL(), User: "engine", Password: "pw-1",
		TLS: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	st, err := nc.TLSConnectionState()
	nc.Close()
	if err != nil || !st.HandshakeComplete || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "localhost" {
		t.Fatalf("no TLS handshake with the test server: %v %+v", err, st)
	}

	if _, err := Connect(ConnOptions{URL: s.ClientURL(), User: "engine", Password: "pw-1"}); err == nil {
		t.Error("a plaintext client was accepted by a TLS-only server")
	}
	if _, err := Connect(ConnOptions{URL: s.ClientURL(), User: "engine", Password: "pw-1",
		TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}); err == nil {
		t.Error("a client without its certificate was accepted by an mTLS server")
	}
	if _, err := Connect(ConnOptions{URL: s.ClientURL(), User: "engine", Password: "pw-1",
		TLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}}); err == nil {
		t.Error("a server certificate from an unknown CA was trusted")
	}
}
