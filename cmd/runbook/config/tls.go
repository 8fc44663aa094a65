package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ClientConfig builds the tls.Config a client connection uses from the
// files the block names. Every error names the setting (field is the block's
// path, e.g. "temporal.tls"), so a worker with an unreadable CA refuses to
// start saying which file, instead of the bug this replaces: the block was
// parsed, then ignored, and the client spoke plaintext.
func (t *TLS) ClientConfig(field string) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", field, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %s holds no PEM certificate", field, t.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		for sub, f := range map[string]string{"cert_file": t.CertFile, "key_file": t.KeyFile} {
			if _, err := os.ReadFile(f); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", field, sub, err)
			}
		}
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s.cert_file/key_file: %w", field, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case t.CertFile != "" || t.KeyFile != "":
		return nil, errors.New(field + ": cert_file and key_file go together")
	}
	return cfg, nil
}
