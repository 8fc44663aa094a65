package config

import (
	"fmt"
	"net"
	"os"
)

// Problems validates the alertmanager section. The worker runs it at start
// too, so a bridge configured unsafely refuses to start rather than run
// open (the bridge signs with the engine's key: an unauthenticated one let
// one curl freeze a bot and revoke its key).
func (a Alertmanager) Problems() []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: "alertmanager." + field, Message: fmt.Sprintf(format, args...)})
	}
	if a.Addr != "" {
		if _, _, err := net.SplitHostPort(a.Addr); err != nil {
			add("addr", "%q is not host:port", a.Addr)
		}
		if !a.Authenticated() {
			add("addr", "is set but the bridge has no authentication: set alertmanager.token_file, alertmanager.token_env or alertmanager.tls.client_ca_file")
		}
	}
	if a.TokenFile != "" && a.TokenEnv != "" {
		add("token_file", "set token_file or token_env, not both")
	}
	if t := a.TLS; t != nil {
		if t.CertFile == "" || t.KeyFile == "" {
			add("tls", "cert_file and key_file are required to serve TLS")
		}
		for field, f := range map[string]string{"cert_file": t.CertFile, "key_file": t.KeyFile, "client_ca_file": t.ClientCAFile} {
			if f != "" {
				if _, err := os.Stat(f); err != nil {
					add("tls."+field, "%v", err)
				}
			}
		}
	}
	if a.MaxBodyBytes < 0 {
		add("max_body_bytes", "cannot be negative")
	}
	if a.MaxAlerts < 0 {
		add("max_alerts", "cannot be negative")
	}
	return ps
}
