// Package exchange holds the exchange containment actions: cancel orders,
// revoke a key, create a least-privilege key, set its IP whitelist, verify
// keys and audit them. They adapt integrations/exchange to the action
// registry; idempotency under retry and replay lives here.
//
// Secrets: a new key's secret goes straight from the exchange's answer into
// the secret store; results carry key id, fingerprint and secret reference
// only. Bot credentials come in as secret references (credential_ref), never
// as values.
package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keyresponse/runbook/activities"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/secrets"
)

// Deps are what the actions need from the worker.
type Deps struct {
	// Exchanges resolves an exchange account name (the `exchange` param,
	// e.g. "binance") to an adapter opened with its management credential.
	Exchanges func(ctx context.Context, name string) (xchg.Exchange, error)
	// Secrets stores new key secrets and holds bot credentials.
	Secrets secrets.Store
	// Now is the clock for key-age findings (default time.Now).
	Now func() time.Time
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d Deps) exchange(ctx context.Context, name string) (xchg.Exchange, error) {
	if d.Exchanges == nil {
		return nil, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no exchange resolver configured"))
	}
	ex, err := d.Exchanges(ctx, name)
	if err != nil {
		return nil, ActivityError(err)
	}
	return ex, nil
}

// StoredCredential is how a key is kept in the secret store: JSON with the
// public key id, the secret and (OKX) the passphrase.
type StoredCredential struct {
	APIKey     string `json:"api_key"`
	Secret     string `json:"secret"`
	Passphrase string `json:"passphrase,omitempty"`
}

// EncodeCredential serialises a credential for the secret store.
func EncodeCredential(c xchg.Credential) []byte {
	b, _ := json.Marshal(StoredCredential{APIKey: c.APIKey, Secret: c.Secret, Passphrase: c.Passphrase})
	return b
}

// DecodeCredential reads a credential from its stored form.
func DecodeCredential(b []byte) (xchg.Credential, error) {
	var s StoredCredential
	if err := json.Unmarshal(b, &s); err != nil || s.APIKey == "" || s.Secret == "" {
		return xchg.Credential{}, errors.New("stored value is not an API credential")
	}
	return xchg.Credential{APIKey: s.APIKey, Secret: s.Secret, Passphrase: s.Passphrase}, nil
}

// LoadCredential resolves a credential reference ("name" or "name@3").
func LoadCredential(ctx context.Context, store secrets.Store, ref string) (xchg.Credential, error) {
	if store == nil {
		return xchg.Credential{}, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no secret store configured"))
	}
	r, err := secrets.ParseRef(ref)
	if err != nil {
		return xchg.Credential{}, activities.NonRetryable(activities.ErrInvalidParams, err)
	}
	b, err := store.Get(ctx, r)
	if errors.Is(err, secrets.ErrNotFound) {
		return xchg.Credential{}, activities.NonRetryable(activities.ErrNotFound, fmt.Errorf("credential %s not found", r))
	}
	if err != nil {
		return xchg.Credential{}, activities.Retryable(ErrSecretStore, fmt.Errorf("credential %s: %w", r, err))
	}
	c, err := DecodeCredential(b)
	if err != nil {
		return xchg.Credential{}, activities.NonRetryable(activities.ErrInvalidParams, fmt.Errorf("credential %s: %w", r, err))
	}
	return c, nil
}

// managementRefresh is how long ConfigResolver trusts a management
// credential it loaded from the secret store before reading the reference
// again: a rotated secret is picked up within this time. Reading it on
// every call would put a secret-store round trip in front of every lockout.
var managementRefresh = 10 * time.Second

// ConfigResolver opens each configured account once and keeps the adapter
// (and so its pool of built ccxt clients). A config whose Management
// credential is empty but names ManagementKeyRef loads it from store (the
// management key lives in the secret store, never in config files handed
// to bots); the reference is read again after managementRefresh (10 s), and when
// the secret changed the old adapter is closed — its clients are never
// used with the old secret again — and a new one opened.
func ConfigResolver(cfgs map[string]xchg.Config, store secrets.Store) func(ctx context.Context, name string) (xchg.Exchange, error) {
	type opened struct {
		ex     xchg.Exchange
		mgmt   xchg.Credential
		loaded time.Time
	}
	var mu sync.Mutex
	open := map[string]*opened{}
	return func(ctx context.Context, name string) (xchg.Exchange, error) {
		mu.Lock()
		defer mu.Unlock()
		cfg, ok := cfgs[name]
		if !ok {
			return nil, &xchg.Error{Kind: xchg.KindInvalid, Exchange: name, Op: "resolve",
				Message: "no exchange account named " + name}
		}
		o, have := open[name]
		fromStore := cfg.Management.Empty() && cfg.ManagementKeyRef != ""
		if have && (!fromStore || time.Since(o.loaded) < managementRefresh) {
			return o.ex, nil
		}
		if fromStore {
			c, err := LoadCredential(ctx, store, cfg.ManagementKeyRef)
			if err != nil {
				return nil, err
			}
			if have && c == o.mgmt {
				o.loaded = time.Now()
				return o.ex, nil
			}
			cfg.Management = c
		}
		ex, err := xchg.Open(cfg)
		if err != nil {
			return nil, err
		}
		if have {
			_ = o.ex.Close() // the secret was rotated: drop the old clients
		}
		open[name] = &opened{ex: ex, mgmt: cfg.Management, loaded: time.Now()}
		return ex, nil
	}
}

// DefaultLabel is the label create_key gives a key: incident and step, so a
// retry finds the key an earlier attempt made. Kept within 50 characters of
// [A-Za-z0-9-] (the strictest exchange rule we know, OKX).
func DefaultLabel(incident, step string) string {
	l := "rb-" + safe(incident, '-') + "-" + safe(step, '-')
	if len(l) <= 50 {
		return l
	}
	sum := secrets.Fingerprint([]byte(incident + "\x00" + step))
	return l[:37] + "-" + sum
}

// DefaultSecretName is where create_key stores a new key of a sub-account.
func DefaultSecretName(exchange, subAccount string) string {
	return safe(exchange, '_') + "/" + safe(subAccount, '_') + "/api-key"
}

func safe(s string, repl rune) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return repl
	}, s)
}

// short abbreviates a key id for summaries ("AbCd…9xYz").
func short(id string) string {
	if len(id) <= 10 {
		return id
	}
	return id[:4] + "…" + id[len(id)-4:]
}
