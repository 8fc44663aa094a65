package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

func authServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConnectCredentials(t *testing.T) {
	// user / password
	s := authServer(t, &server.Options{Users: []*server.User{{Username: "ingest", Password: "s3cret-pw"}}})
	if nc, err := Connect(ConnOptions{URL: s.ClientURL(), User: "ingest", Password: "s3cret-pw"}); err != nil {
		t.Fatalf("user/password: %v", err)
	} else {
		nc.Close()
	}
	if _, err := Connect(ConnOptions{URL: s.ClientURL(), User: "ingest", Password: "wrong"}); err == nil {
		t.Fatal("wrong password accepted")
	}

	// token
	s = authServer(t, &server.Options{Authorization: "tok-123"})
	if nc, err := Connect(ConnOptions{URL: s.ClientURL(), Token: "tok-123"}); err != nil {
		t.Fatalf("token: %v", err)
	} else {
		nc.Close()
	}
	if _, err := Connect(ConnOptions{URL: s.ClientURL()}); err == nil {
		t.Fatal("no token accepted")
	}

	// nkey seed file
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	s = authServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if nc, err := Connect(ConnOptions{URL: s.ClientURL(), NKeyFile: writeFile(t, "user.nk", seed)}); err != nil {
		t.Fatalf("nkey: %v", err)
	} else {
		nc.Close()
	}
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	if _, err := Connect(ConnOptions{URL: s.ClientURL(), NKeyFile: writeFile(t, "other.nk", otherSeed)}); err == nil {
		t.Fatal("unknown nkey accepted")
	}

	// creds file (operator mode: operator -> account -> user JWTs)
	okp, _ := nkeys.CreateOperator()
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	ojwt, err := oc.Encode(okp)
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
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
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
	s = authServer(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{opc}, AccountResolver: res})
	if nc, err := Connect(ConnOptions{URL: s.ClientURL(), CredsFile: writeFile(t, "user.creds", creds)}); err != nil {
		t.Fatalf("creds: %v", err)
	} else {
		nc.Close()
	}
	if _, err := Connect(ConnOptions{URL: s.ClientURL(), Token: "x", User: "y"}); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Fatalf("two methods: %v", err)
	}
}
