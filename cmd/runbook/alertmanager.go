package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
)

// alertmanagerTokenFile is where `runbook dev` keeps the bridge's bearer
// token (mode 0600); Alertmanager reads the same file through
// http_config.authorization.credentials_file.
func alertmanagerTokenFile(home string) string { return filepath.Join(home, "alertmanager-token") }

// ensureDevAlertmanagerToken creates the dev bridge's token on first start.
func ensureDevAlertmanagerToken(home string) (string, error) {
	path := alertmanagerTokenFile(home)
	err := createSecretFileOnce(path, func() ([]byte, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return []byte(base64.RawURLEncoding.EncodeToString(b) + "\n"), nil
	})
	return path, err
}

// alertmanagerToken reads the configured bearer token ("" when none is
// configured). A reference that yields no token is an error naming the
// setting, never a silently open bridge.
func alertmanagerToken(a config.Alertmanager) (string, error) {
	switch {
	case a.TokenFile != "":
		b, err := os.ReadFile(a.TokenFile)
		if err != nil {
			return "", fmt.Errorf("alertmanager.token_file: %w", err)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("alertmanager.token_file: %s is empty", a.TokenFile)
	case a.TokenEnv != "":
		if t := strings.TrimSpace(os.Getenv(a.TokenEnv)); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("alertmanager.token_env: environment variable %s is empty or unset", a.TokenEnv)
	}
	return "", nil
}

// alertmanagerTLS is the listener's TLS config (nil: plain HTTP); with a
// client CA, the handshake refuses clients without a certificate it signed.
func alertmanagerTLS(t *config.ServerTLS) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("alertmanager.tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCAFile != "" {
		pem, err := os.ReadFile(t.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("alertmanager.tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("alertmanager.tls.client_ca_file: %s holds no PEM certificate", t.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// alertmanagerConfigError is the section's problems as one error naming
// each setting, or nil.
func alertmanagerConfigError(a config.Alertmanager) error {
	var errs []error
	for _, p := range a.Problems() {
		errs = append(errs, errors.New(p.String()))
	}
	return errors.Join(errs...)
}

// startAlertmanager serves the bridge on its own listener per a, or
// returns nil when a configures no authentication (not served). An
// unsafe section refuses to start, naming the setting.
func startAlertmanager(a config.Alertmanager, js jetstream.JetStream, kr breach.Keyring) (*httpServer, error) {
	if err := alertmanagerConfigError(a); err != nil {
		return nil, err
	}
	if !a.Served() {
		return nil, nil
	}
	token, err := alertmanagerToken(a)
	if err != nil {
		return nil, err
	}
	tc, err := alertmanagerTLS(a.TLS)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(kr))
	for id := range kr {
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("alertmanager bridge: no event signing key to sign with")
	}
	sort.Strings(ids) // the same key every start, not map order
	bridge := &ingest.AlertmanagerBridge{JS: js, Keys: kr, KeyID: ids[0], BearerToken: token,
		RequireClientCert: tc != nil && tc.ClientCAs != nil, MaxBodyBytes: a.MaxBodyBytes, MaxAlerts: a.MaxAlerts}
	mux := http.NewServeMux()
	mux.Handle("POST /alertmanager", bridge)
	srv, err := serveHTTP(a.ListenAddr(), mux, tc)
	if err != nil {
		return nil, fmt.Errorf("alertmanager.addr %s: %w", a.ListenAddr(), err)
	}
	return srv, nil
}

// devAlertmanager is the dev stack's bridge section: the config file's
// when it configures authentication, else the provisioned token in home on
// 127.0.0.1:port.
func devAlertmanager(a config.Alertmanager, home string, port int) (config.Alertmanager, error) {
	if a.Authenticated() {
		return a, nil
	}
	path, err := ensureDevAlertmanagerToken(home)
	if err != nil {
		return a, fmt.Errorf("alertmanager token: %w", err)
	}
	a.TokenFile = path
	if a.Addr == "" {
		a.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return a, nil
}

// alertmanagerServer is a running bridge and where its token is (a path
// or $VAR, for the banner; never the token itself).
type alertmanagerServer struct {
	srv     *httpServer
	tokenAt string
}

func (a *alertmanagerServer) close() {
	if a != nil {
		a.srv.close()
	}
}

// URL is the webhook's URL, or "(none)".
func (a *alertmanagerServer) URL() string {
	if a == nil || a.srv == nil {
		return "(none)"
	}
	return a.srv.URL() + "/alertmanager"
}

// TokenAt is where the bearer token is, or "(none)".
func (a *alertmanagerServer) TokenAt() string {
	if a == nil || a.tokenAt == "" {
		return "(none: mTLS only)"
	}
	return a.tokenAt
}

// startDevAlertmanager starts the dev stack's bridge.
func startDevAlertmanager(o devOptions, js jetstream.JetStream, kr breach.Keyring) (*alertmanagerServer, error) {
	a, err := devAlertmanager(o.alertmanager, o.home, o.alertmanagerPort)
	if err != nil {
		return nil, err
	}
	srv, err := startAlertmanager(a, js, kr)
	if err != nil {
		return nil, fmt.Errorf("%w (try --alertmanager-port, or -1 for no bridge)", err)
	}
	where := a.TokenFile
	if where == "" && a.TokenEnv != "" {
		where = "$" + a.TokenEnv
	}
	return &alertmanagerServer{srv: srv, tokenAt: where}, nil
}

// startWorkerAlertmanager serves the bridge of `runbook worker` when the
// config's alertmanager section authenticates callers and this worker runs
// the trigger consumer: the bridge signs with the consumer's event keys,
// and the one config file of a deployment serves both roles (pure workers
// hold no event keys). kr is the consumer's keyring.
func startWorkerAlertmanager(g *globals, consumer bool, kr breach.Keyring, js jetstream.JetStream) (*httpServer, error) {
	a := g.mustCfg().Alertmanager
	switch {
	case !a.Served():
		fmt.Fprintln(g.stdout, "alertmanager bridge: off (configure alertmanager.token_file, token_env or tls.client_ca_file)")
		return nil, nil
	case !consumer:
		fmt.Fprintln(g.stdout, "alertmanager bridge: off in a worker without the trigger consumer (--consumer=false); the trigger-consumer workers serve it")
		return nil, nil
	}
	srv, err := startAlertmanager(a, js, kr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(g.stdout, "alertmanager bridge on %s/alertmanager\n", srv.URL())
	return srv, nil
}
