package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/integrations/testcert"
)

func TestTLSClientConfigLoadsTheFiles(t *testing.T) {
	certs := testcert.New(t, true)
	tc, err := (&TLS{CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, ServerName: "temporal.internal"}).ClientConfig("temporal.tls")
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "temporal.internal" {
		t.Errorf("tls.Config %+v: want the CA, the client certificate and the server name", tc)
	}
}

// A file the worker cannot use stops it with the setting's name.
func TestTLSClientConfigNamesTheBadSetting(t *testing.T) {
	certs := testcert.New(t, false)
	missing := filepath.Join(t.TempDir(), "nope.pem")
	for want, block := range map[string]*TLS{
		"nats.tls.ca_file: open " + missing:                            {CAFile: missing},
		"nats.tls.ca_file: " + certs.ServerKey:                         {CAFile: certs.ServerKey},
		"nats.tls.key_file: open " + missing:                           {CertFile: certs.ClientCert, KeyFile: missing},
		"nats.tls: cert_file and key_file go together":                 {CertFile: certs.ClientCert},
		"nats.tls.cert_file/key_file: tls: private key does not match": {CertFile: certs.ClientCert, KeyFile: certs.ServerKey},
	} {
		_, err := block.ClientConfig("nats.tls")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%+v: err = %v, want %q...", block, err, want)
		}
	}
	c := &Config{Temporal: Temporal{TLS: &TLS{CAFile: missing}}, NATS: NATS{CredsFile: missing}}
	got := problemFields(c.CheckFiles())
	if !strings.Contains(got["temporal.tls.ca_file"], "no such file") || !strings.Contains(got["nats.creds_file"], "no such file") {
		t.Errorf("CheckFiles: %v", got)
	}
}

// A credential in the environment replaces the file's method as a whole,
// recording the variable's name, never its value.
func TestNATSCredentialsFromTheEnvironmentReplaceTheFiles(t *testing.T) {
	c, err := Parse("x.yaml", []byte("nats: {url: nats://a:1, creds_file: /etc/w.creds, tls: {ca_file: /ca}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"RUNBOOK_NATS_USER": "engine", "RUNBOOK_NATS_PASSWORD": "pw-value"}
	c.ApplyEnv(func(k string) string { return env[k] })
	n := c.NATS
	if n.CredsFile != "" || n.User != "engine" || n.PasswordEnv != "RUNBOOK_NATS_PASSWORD" || n.TLS == nil {
		t.Errorf("after env: %+v", n)
	}
	if ps := c.Check(); len(ps) != 0 {
		t.Errorf("env-only credentials fail Check: %v", ps)
	}
	c, _ = Parse("x.yaml", []byte("nats: {user: engine, password_env: P}\n"))
	c.ApplyEnv(func(k string) string { return map[string]string{"RUNBOOK_NATS_TOKEN": "t"}[k] })
	if c.NATS.User != "" || c.NATS.PasswordEnv != "" || c.NATS.TokenEnv != "RUNBOOK_NATS_TOKEN" {
		t.Errorf("token from env: %+v", c.NATS)
	}
}
