package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go/jetstream"

	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/integrations/secrets/backend"
)

// secretStore opens the configured secret store: the encrypted file store
// under <home>/secrets by default, Vault/OpenBao KV v2, or an encrypted
// JetStream KV bucket (js is needed only for that one).
func (g *globals) secretStore(ctx context.Context, js jetstream.JetStream) (secrets.Store, error) {
	c := g.mustCfg().Secrets
	s, err := backend.Open(ctx, secrets.Config(c), backend.Deps{JetStream: js, Getenv: os.Getenv, DefaultDir: filepath.Join(g.homeDir(), "secrets")})
	if err != nil {
		return nil, fmt.Errorf("secret store (%s): %w", pick(c.Backend, "file"), err)
	}
	return s, nil
}

// exchangeAccounts turns the config's exchanges section into adapter
// configs; management credentials stay references into the secret store.
func (g *globals) exchangeAccounts() map[string]xchg.Config {
	out := map[string]xchg.Config{}
	for _, e := range g.mustCfg().Exchanges {
		out[e.Name] = xchg.Config{Exchange: e.Exchange, BaseURL: e.BaseURL, ManagementKeyRef: e.ManagementKeyRef, Options: e.Options}
	}
	return out
}
