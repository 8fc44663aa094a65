package config

// Alertmanager configures the Prometheus Alertmanager webhook bridge: its
// own listener, apart from metrics and health, serving only authenticated
// callers. The token is a reference (a file or an environment variable),
// never the value. With neither a token nor a client CA the bridge is not
// served; an addr without either is refused (check_alertmanager.go).
type Alertmanager struct {
	// Addr is the bridge's listener (default 127.0.0.1:7081 once
	// authentication is configured).
	Addr string `yaml:"addr,omitempty"`
	// TokenFile holds the bearer token Alertmanager sends
	// (http_config.authorization.credentials_file on its side).
	TokenFile string `yaml:"token_file,omitempty"`
	// TokenEnv names the environment variable holding the token.
	TokenEnv string `yaml:"token_env,omitempty"`
	// TLS serves the bridge over TLS; with client_ca_file, only clients
	// presenting a certificate signed by that CA connect (mTLS).
	TLS *ServerTLS `yaml:"tls,omitempty"`
	// MaxBodyBytes caps a request body (default 1 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes,omitempty"`
	// MaxAlerts caps the alerts of one request (default 100); set
	// Alertmanager's webhook_config max_alerts to at most this.
	MaxAlerts int `yaml:"max_alerts,omitempty"`
}

// ServerTLS is a listener's certificate and, for mTLS, the CA its clients'
// certificates must chain to.
type ServerTLS struct {
	CertFile     string `yaml:"cert_file,omitempty"`
	KeyFile      string `yaml:"key_file,omitempty"`
	ClientCAFile string `yaml:"client_ca_file,omitempty"`
}

// DefaultAlertmanagerAddr is loopback: a bridge reachable from elsewhere is
// a choice the operator writes down.
const DefaultAlertmanagerAddr = "127.0.0.1:7081"

// Authenticated says whether a token or a client CA is configured.
func (a Alertmanager) Authenticated() bool {
	return a.TokenFile != "" || a.TokenEnv != "" || (a.TLS != nil && a.TLS.ClientCAFile != "")
}

// Served says whether the bridge runs at all.
func (a Alertmanager) Served() bool { return a.Authenticated() }

// ListenAddr is Addr or the loopback default.
func (a Alertmanager) ListenAddr() string {
	if a.Addr != "" {
		return a.Addr
	}
	return DefaultAlertmanagerAddr
}
