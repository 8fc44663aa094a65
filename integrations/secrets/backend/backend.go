// Package backend opens the secret store a secrets.Config names: the
// encrypted file store (default), Vault / OpenBao KV v2, or an encrypted
// JetStream KV bucket. It is separate from package secrets because the
// backends import that package.
package backend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/integrations/secrets/natskv"
	"github.com/keyresponse/runbook/integrations/secrets/vault"
)

// Deps are what some backends need from the process.
type Deps struct {
	// JetStream is the engine's JetStream context (nats-kv backend).
	JetStream jetstream.JetStream
	// Getenv reads the Vault token variable (default os.Getenv).
	Getenv func(string) string
	// DefaultDir is the file store directory when cfg.Dir is empty
	// (the CLI passes <home>/secrets).
	DefaultDir string
}

// Open returns the configured store.
func Open(ctx context.Context, cfg secrets.Config, d Deps) (secrets.Store, error) {
	getenv := d.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	switch cfg.Backend {
	case "", "file":
		dir := cfg.Dir
		if dir == "" {
			dir = d.DefaultDir
		}
		if dir == "" {
			return nil, errors.New("secrets: file backend needs a directory")
		}
		return secrets.OpenFile(dir, cfg.KeyFile)
	case "vault":
		env := cfg.VaultTokenEnv
		if env == "" {
			env = "VAULT_TOKEN"
		}
		token := getenv(env)
		if token == "" {
			return nil, fmt.Errorf("secrets: vault backend: environment variable %s is empty", env)
		}
		return vault.Open(vault.Config{Address: cfg.VaultAddress, Mount: cfg.VaultMount, Token: token})
	case "nats-kv":
		if d.JetStream == nil {
			return nil, errors.New("secrets: nats-kv backend needs a NATS connection")
		}
		keyFile := cfg.KeyFile
		if keyFile == "" && (cfg.Dir != "" || d.DefaultDir != "") {
			dir := cfg.Dir
			if dir == "" {
				dir = d.DefaultDir
			}
			keyFile = filepath.Join(dir, "master.key")
		}
		return natskv.Open(ctx, d.JetStream, cfg.Bucket, keyFile)
	default:
		return nil, fmt.Errorf("secrets: backend %q is not one of file, vault, nats-kv", cfg.Backend)
	}
}
