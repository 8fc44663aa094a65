package main

import (
	"fmt"
	"path/filepath"

	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/secrets"
)

// secretStore opens the configured secret store (default: the encrypted
// file store under <home>/secrets).
func (g *globals) secretStore() (secrets.Store, error) {
	c := g.mustCfg().Secrets
	switch c.Backend {
	case "", "file":
		dir := c.Dir
		if dir == "" {
			dir = filepath.Join(g.homeDir(), "secrets")
		}
		s, err := secrets.OpenFile(dir, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("secret store %s: %w", dir, err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("secrets.backend %q is not available in this build", c.Backend)
	}
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
