package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/integrations/testcert"
)

// tlsFrontend is a gRPC-over-TLS server speaking enough of Temporal's
// WorkflowService for a client to dial it; it records, per call, the
// client certificate the handshake presented and the authorization header.
type tlsFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	addr string

	mu    sync.Mutex
	calls []frontendCall
}

type frontendCall struct {
	clientCN, authorization string
}

func startTLSFrontend(t *testing.T, certs testcert.Files) *tlsFrontend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &tlsFrontend{addr: ln.Addr().String()}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(certs.Server)), grpc.UnaryInterceptor(f.record))
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return f
}

func (f *tlsFrontend) record(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	var c frontendCall
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			c.clientCN = ti.State.PeerCertificates[0].Subject.CommonName
		}
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("authorization")) > 0 {
		c.authorization = md.Get("authorization")[0]
	}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return h(ctx, req)
}

func (f *tlsFrontend) GetSystemInfo(context.Context, *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	return &workflowservice.GetSystemInfoResponse{}, nil
}

func (f *tlsFrontend) seen() []frontendCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]frontendCall(nil), f.calls...)
}

func writeTestConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runbook.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// payloadKeyEnv gives the worker under test the keys every engine process
// requires: a payload key and an audit key (both through the environment).
func payloadKeyEnv(t *testing.T) {
	k := make([]byte, 32)
	rand.Read(k)
	t.Setenv("RUNBOOK_PAYLOAD_KEYS", "test="+base64.StdEncoding.EncodeToString(k))
	dir := t.TempDir()
	if _, err := ensureDevAuditKeys(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUNBOOK_AUDIT_KEYS_FILE", auditKeysFile(dir))
}

// temporal.tls (mTLS) and temporal.api_key_env reach the wire from both a
// CLI verb's client and the worker's (which the trigger consumer's starter
// shares): the frontend sees a TLS handshake with the engine's client
// certificate and "authorization: Bearer <key>".
func TestTransport_TemporalTLSAndAPIKeyOnTheWire(t *testing.T) {
	certs := testcert.New(t, true)
	fe := startTLSFrontend(t, certs)
	t.Setenv("TEST_TEMPORAL_API_KEY", "tk-test-1234")
	t.Setenv("RUNBOOK_TEMPORAL_ADDRESS", "") // the config file must decide
	payloadKeyEnv(t)
	cfg := writeTestConfig(t, fmt.Sprintf(`home: %s
temporal:
  address: %q
  namespace: runbook
  api_key_env: TEST_TEMPORAL_API_KEY
  tls: {ca_file: %s, cert_file: %s, key_file: %s, server_name: localhost}
nats: {url: "nats://%s"}
operators: [{name: alice, keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICA8Taa9mrLAGR1EBAATPhgIjKzuE3HQHJHTPrEgs8ff alice@example"], roles: [approver]}]
`, t.TempDir(), fe.addr, certs.CA, certs.ClientCert, certs.ClientKey, closedPort(t)))

	g := &globals{config: cfg}
	c, err := g.dialTemporal(context.Background())
	if err != nil {
		t.Fatalf("CLI dial: %v", err)
	}
	c.Close()
	cli := fe.seen()
	if len(cli) == 0 {
		t.Fatal("the CLI client made no call to the TLS frontend")
	}
	for _, call := range cli {
		if call.clientCN != "runbook-engine" || call.authorization != "Bearer tk-test-1234" {
			t.Errorf("CLI call: client cert %q, authorization %q; want runbook-engine and the bearer key", call.clientCN, call.authorization)
		}
	}

	// The worker dials Temporal first, then fails on the closed NATS port.
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"worker", "--config", cfg}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "NATS") {
		t.Fatalf("worker exit %d, stderr %q: want it past Temporal and stopped at NATS", code, errOut.String())
	}
	worker := fe.seen()[len(cli):]
	if len(worker) == 0 {
		t.Fatal("the worker made no call to the TLS frontend")
	}
	for _, call := range worker {
		if call.clientCN != "runbook-engine" || call.authorization != "Bearer tk-test-1234" {
			t.Errorf("worker call: client cert %q, authorization %q", call.clientCN, call.authorization)
		}
	}
}

// A Temporal setting the worker cannot apply stops it before it connects,
// naming the setting.
func TestTransport_TemporalSettingThatCannotBeAppliedRefusesToStart(t *testing.T) {
	certs := testcert.New(t, false)
	missing := filepath.Join(t.TempDir(), "ca.pem")
	t.Setenv("RUNBOOK_TEMPORAL_ADDRESS", "")
	t.Setenv("UNSET_TEMPORAL_API_KEY", "")
	for want, temporal := range map[string]string{
		"temporal.tls.ca_file: open " + missing:                   fmt.Sprintf("tls: {ca_file: %s}", missing),
		"temporal.api_key_env: UNSET_TEMPORAL_API_KEY is not set": fmt.Sprintf("api_key_env: UNSET_TEMPORAL_API_KEY\n  tls: {ca_file: %s}", certs.CA),
		"temporal.tls: cert_file and key_file go together":        fmt.Sprintf("tls: {cert_file: %s}", certs.ClientCert),
	} {
		cfg := writeTestConfig(t, fmt.Sprintf("home: %s\ntemporal:\n  address: 127.0.0.1:1\n  %s\noperators: [{name: alice, keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICA8Taa9mrLAGR1EBAATPhgIjKzuE3HQHJHTPrEgs8ff alice@example\"], roles: [approver]}]\n", t.TempDir(), temporal))
		var out, errOut strings.Builder
		if code := run(context.Background(), []string{"worker", "--config", cfg}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), want) {
			t.Errorf("worker exit %d, stderr %q; want %q", code, errOut.String(), want)
		}
	}
}

// natsServer starts a real nats-server on 127.0.0.1 with the given auth.
func natsServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10e9) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

// operatorServer runs nats-server in operator (JWT) mode with one account
// and returns a user's creds file and public key: the server admits that
// user only if CONNECT carries the user JWT and the nonce signed by its
// seed.
func operatorServer(t *testing.T) (s *server.Server, credsFile, userPub string) {
	t.Helper()
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	ojwt, err := jwt.NewOperatorClaims(opub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	opc, err := jwt.DecodeOperatorClaims(ojwt)
	if err != nil {
		t.Fatal(err)
	}
	akp, _ := nkeys.CreateAccount()
	apub, _ := akp.PublicKey()
	ajwt, err := jwt.NewAccountClaims(apub).Encode(okp)
	if err != nil {
		t.Fatal(err)
	}
	ukp, _ := nkeys.CreateUser()
	userPub, _ = ukp.PublicKey()
	uc := jwt.NewUserClaims(userPub)
	uc.IssuerAccount = apub
	ujwt, err := uc.Encode(akp)
	if err != nil {
		t.Fatal(err)
	}
	useed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(ujwt, useed)
	if err != nil {
		t.Fatal(err)
	}
	res := &server.MemAccResolver{}
	if err := res.Store(apub, ajwt); err != nil {
		t.Fatal(err)
	}
	credsFile = filepath.Join(t.TempDir(), "worker.creds")
	if err := os.WriteFile(credsFile, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return natsServer(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{opc}, AccountResolver: res}), credsFile, userPub
}

// Each NATS method in the config file (no RUNBOOK_NATS_* variable) gets a
// CLI verb's connection admitted by a server that demands exactly it, and
// the server names the authenticated user; without the setting the same
// server refuses.
func TestTransport_NATSConfigCredentialsOnTheWire(t *testing.T) {
	for _, k := range []string{"RUNBOOK_NATS_URL", "RUNBOOK_NATS_CREDS", "RUNBOOK_NATS_NKEY", "RUNBOOK_NATS_USER", "RUNBOOK_NATS_PASSWORD", "RUNBOOK_NATS_TOKEN"} {
		t.Setenv(k, "")
	}
	type tc struct {
		srv      *server.Server
		nats     string // the config's nats block, after url
		wantUser string // the user the server reports
	}
	cases := map[string]tc{}

	s, creds, upub := operatorServer(t)
	cases["creds_file"] = tc{s, "creds_file: " + creds, upub}

	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "worker.nk")
	os.WriteFile(seedFile, seed, 0o600)
	cases["nkey_file"] = tc{natsServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}}), "nkey_file: " + seedFile, pub}

	t.Setenv("TEST_NATS_PASSWORD", "pw-9876")
	cases["user+password_env"] = tc{natsServer(t, &server.Options{Users: []*server.User{{Username: "runbook", Password: "pw-9876"}}}),
		"user: runbook\n  password_env: TEST_NATS_PASSWORD", "runbook"}

	t.Setenv("TEST_NATS_TOKEN", "tok-5555")
	cases["token_env"] = tc{natsServer(t, &server.Options{Authorization: "tok-5555"}), "token_env: TEST_NATS_TOKEN", ""}

	certs := testcert.New(t, true)
	cases["tls"] = tc{natsServer(t, &server.Options{TLSConfig: certs.Server, TLS: true, TLSVerify: true, TLSTimeout: 5}),
		fmt.Sprintf("tls: {ca_file: %s, cert_file: %s, key_file: %s}", certs.CA, certs.ClientCert, certs.ClientKey), ""}

	for name, c := range cases {
		cfg := writeTestConfig(t, fmt.Sprintf("home: %s\nnats:\n  url: %q\n  %s\n", t.TempDir(), c.srv.ClientURL(), c.nats))
		nc, _, err := (&globals{config: cfg}).connectNATS(context.Background(), natsauth.RoleOperator)
		if err != nil {
			t.Errorf("%s: not admitted: %v", name, err)
			continue
		}
		if name == "tls" {
			if st, err := nc.TLSConnectionState(); err != nil || !st.HandshakeComplete {
				t.Errorf("tls: no handshake: %v", err)
			}
		}
		nc.Flush()
		if c.wantUser != "" {
			cz, err := c.srv.Connz(&server.ConnzOptions{Username: true})
			if err != nil || len(cz.Conns) != 1 || cz.Conns[0].AuthorizedUser != c.wantUser {
				t.Errorf("%s: server's view %+v (%v), want user %s", name, cz, err, c.wantUser)
			}
		}
		nc.Close()

		bare := writeTestConfig(t, fmt.Sprintf("home: %s\nnats: {url: %q}\n", t.TempDir(), c.srv.ClientURL()))
		if nc, _, err := (&globals{config: bare}).connectNATS(context.Background(), natsauth.RoleOperator); err == nil {
			nc.Close()
			t.Errorf("%s: the server admits a client without the setting, so the test proves nothing", name)
		}
	}
}

// A NATS setting that cannot be applied stops the worker naming it; the
// shipped Kubernetes mistake (a password with no user) is refused too.
func TestTransport_NATSSettingThatCannotBeAppliedRefusesToStart(t *testing.T) {
	for _, k := range []string{"RUNBOOK_NATS_URL", "RUNBOOK_NATS_CREDS", "RUNBOOK_NATS_NKEY", "RUNBOOK_NATS_USER", "RUNBOOK_NATS_PASSWORD", "RUNBOOK_NATS_TOKEN", "UNSET_NATS_PASSWORD"} {
		t.Setenv(k, "")
	}
	missing := filepath.Join(t.TempDir(), "worker.creds")
	cases := map[string]string{
		"nats.creds_file: open " + missing:                  "creds_file: " + missing,
		"nats.nkey_file: open " + missing:                   "nkey_file: " + missing,
		"nats.password_env: UNSET_NATS_PASSWORD is not set": "user: runbook\n  password_env: UNSET_NATS_PASSWORD",
		"nats.tls.ca_file: open " + missing:                 "tls: {ca_file: " + missing + "}",
	}
	for want, block := range cases {
		cfg := writeTestConfig(t, fmt.Sprintf("home: %s\ntemporal: {address: %q}\nnats:\n  url: nats://127.0.0.1:1\n  %s\noperators: [{name: alice, keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICA8Taa9mrLAGR1EBAATPhgIjKzuE3HQHJHTPrEgs8ff alice@example\"], roles: [approver]}]\n", t.TempDir(), closedPort(t), block))
		var out, errOut strings.Builder
		if code := run(context.Background(), []string{"worker", "--config", cfg}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), want) {
			t.Errorf("worker exit %d, stderr %q; want %q", code, errOut.String(), want)
		}
	}
	t.Setenv("RUNBOOK_NATS_PASSWORD", "pw")
	cfg := writeTestConfig(t, fmt.Sprintf("home: %s\nnats: {url: nats://127.0.0.1:1}\n", t.TempDir()))
	if _, _, err := (&globals{config: cfg}).connectNATS(context.Background(), natsauth.RoleOperator); err == nil || !strings.Contains(err.Error(), "no NATS user") {
		t.Errorf("a password with no user: %v", err)
	}
	// Credentials in the URL are refused, and the refusal does not repeat them.
	t.Setenv("RUNBOOK_NATS_PASSWORD", "")
	cfg = writeTestConfig(t, fmt.Sprintf("home: %s\nnats: {url: \"nats://runbook:s3cret-pw@127.0.0.1:1\"}\n", t.TempDir()))
	if _, _, err := (&globals{config: cfg}).connectNATS(context.Background(), natsauth.RoleOperator); err == nil ||
		!strings.Contains(err.Error(), "nats.url: holds credentials") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("credentials in the NATS URL: %v", err)
	}
}

// The worker refuses an unsafe config at start, before connecting, saying
// why; the override lets a lab through; loopback needs none.
func TestTransport_WorkerRefusesAnUnsafeConfig(t *testing.T) {
	for _, k := range []string{"RUNBOOK_TEMPORAL_ADDRESS", "RUNBOOK_NATS_URL", "RUNBOOK_ALLOW_INSECURE"} {
		t.Setenv(k, "")
	}
	payloadKeyEnv(t) // else the missing payload key is what stops the worker
	unsafe := fmt.Sprintf("home: %s\ntemporal: {address: \"temporal.prod.example:7233\"}\nnats: {url: \"nats://nats.prod.example:4222\"}\n", t.TempDir())
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"worker", "--config", writeTestConfig(t, unsafe)}, &out, &errOut)
	for _, want := range []string{"refusing an unsafe config", "temporal.tls: plaintext gRPC to temporal.prod.example:7233",
		"nats.tls: plaintext NATS", "operators: no operators", "allow_insecure: [no_operators]"} {
		if code == 0 || !strings.Contains(errOut.String(), want) {
			t.Errorf("exit %d, stderr %q; want %q", code, errOut.String(), want)
		}
	}
	// config check says the same.
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"config", "check", writeTestConfig(t, unsafe)}, &out, &errOut); code == 0 || !strings.Contains(out.String(), "temporal.tls: plaintext") {
		t.Errorf("config check exit %d, out %q", code, out.String())
	}

	// Overridden (here through the environment) or on loopback, the worker
	// goes on to dial Temporal: the closed port is the next thing it reports.
	t.Setenv("RUNBOOK_ALLOW_INSECURE", "temporal_plaintext,nats_plaintext,no_operators")
	temporalAddr := closedPort(t)
	lab := fmt.Sprintf("home: %s\ntemporal: {address: %q}\nnats: {url: \"nats://nats.lab.example:4222\"}\n", t.TempDir(), temporalAddr)
	errOut.Reset()
	if code := run(context.Background(), []string{"worker", "--config", writeTestConfig(t, lab)}, &out, &errOut); code == 0 ||
		strings.Contains(errOut.String(), "unsafe") || !strings.Contains(errOut.String(), "cannot reach Temporal") {
		t.Errorf("overridden: exit %d, stderr %q; want past the check", code, errOut.String())
	}
	t.Setenv("RUNBOOK_ALLOW_INSECURE", "")
	loop := fmt.Sprintf("home: %s\ntemporal: {address: %q}\nnats: {url: \"nats://127.0.0.1:4222\"}\noperators: [{name: alice, keys: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICA8Taa9mrLAGR1EBAATPhgIjKzuE3HQHJHTPrEgs8ff alice@example\"], roles: [approver]}]\n", t.TempDir(), temporalAddr)
	errOut.Reset()
	if code := run(context.Background(), []string{"worker", "--config", writeTestConfig(t, loop)}, &out, &errOut); code == 0 ||
		strings.Contains(errOut.String(), "unsafe") || !strings.Contains(errOut.String(), "cannot reach Temporal") {
		t.Errorf("loopback: exit %d, stderr %q; want past the check", code, errOut.String())
	}
}

// An API key alone (no tls block, as a Temporal Cloud config may be) is
// still only sent over TLS: the first bytes the listener reads are a TLS
// ClientHello (0x16 0x03), not the HTTP/2 preface "PRI * HTTP/2.0".
func TestTransport_TemporalAPIKeyIsNeverSentInClear(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	first := make(chan []byte, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			first <- nil
			return
		}
		defer conn.Close()
		b := make([]byte, 3)
		n, _ := io.ReadFull(conn, b)
		first <- b[:n]
	}()
	tr, err := temporalTransportOf(config.Temporal{APIKeyEnv: "K"}, func(string) string { return "key-1" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	payloadKeyEnv(t)
	kr, err := (&globals{}).payloadKeyring()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := dialWith(ctx, tr, ln.Addr().String(), "default", "test", kr, nil); err == nil {
		c.Close()
		t.Fatal("dial succeeded against a listener that speaks no TLS")
	}
	if b := <-first; len(b) < 2 || b[0] != 0x16 || b[1] != 0x03 {
		t.Fatalf("first bytes on the wire %q, want a TLS ClientHello", b)
	}
}
