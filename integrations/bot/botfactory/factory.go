// Package botfactory builds a bot.Controller from bot.BotConfig, loading the
// engine-side secrets (freqtrade API password, webhook signing key, the
// engine's NaCl key) from the environment or the secret store.
package botfactory

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade"
	"github.com/keyresponse/runbook/integrations/bot/natsctl"
	"github.com/keyresponse/runbook/integrations/bot/webhook"
)

// Deps are what the controllers need from the process.
type Deps struct {
	Secrets    bot.SecretReader // for *_ref settings
	NATS       *nats.Conn       // for kind nats
	HTTPClient *http.Client     // optional
}

// New builds the controller for one bot.
func New(ctx context.Context, c bot.BotConfig, d Deps) (bot.Controller, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	hc := d.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: c.CallTimeout()}
	}
	switch c.Kind {
	case bot.KindFreqtrade:
		pw, err := bot.LoadSecret(ctx, d.Secrets, c.PasswordEnv, c.PasswordRef)
		if err != nil {
			return nil, fmt.Errorf("bot %s: freqtrade password: %w", c.ID, err)
		}
		return freqtrade.New(freqtrade.Options{BotID: c.ID, BaseURL: c.URL, Username: c.Username, Password: string(pw),
			SecretsConfigPath: c.SecretsConfigPath, Exchange: c.Exchange, HTTPClient: hc})
	case bot.KindWebhook:
		key, err := bot.LoadSecret(ctx, d.Secrets, c.SigningKeyEnv, c.SigningKeyRef)
		if err != nil {
			return nil, fmt.Errorf("bot %s: webhook signing key: %w", c.ID, err)
		}
		return webhook.New(webhook.Options{BotID: c.ID, URL: c.URL, SigningKey: key, Exchange: c.Exchange, HTTPClient: hc})
	case bot.KindNATS:
		if d.NATS == nil {
			return nil, fmt.Errorf("bot %s: kind nats needs a NATS connection", c.ID)
		}
		pub, err := natsctl.DecodeKey(c.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("bot %s: public_key: %w", c.ID, err)
		}
		raw, err := bot.LoadSecret(ctx, d.Secrets, c.EngineKeyEnv, c.EngineKeyRef)
		if err != nil {
			return nil, fmt.Errorf("bot %s: engine key: %w", c.ID, err)
		}
		priv, err := natsctl.DecodeKey(string(raw))
		if err != nil {
			return nil, fmt.Errorf("bot %s: engine key: %w", c.ID, err)
		}
		return natsctl.New(natsctl.Options{BotID: c.ID, Conn: d.NATS, BotPublicKey: pub, EnginePrivateKey: priv,
			Subject: c.Subject, Exchange: c.Exchange, Timeout: c.CallTimeout()})
	}
	return nil, fmt.Errorf("bot %s: unknown kind %q", c.ID, c.Kind)
}

// Resolver validates every config now (a bad config fails at start, not
// mid-incident) and returns a lookup that builds each controller on first
// use and keeps it (freqtrade tokens are reused). A controller that could
// not be built (secret missing) is retried on the next lookup.
func Resolver(cfgs []bot.BotConfig, d Deps) (func(id string) (bot.Controller, error), error) {
	byID := map[string]bot.BotConfig{}
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if _, dup := byID[c.ID]; dup {
			return nil, fmt.Errorf("bot %s configured twice", c.ID)
		}
		byID[c.ID] = c
	}
	var mu sync.Mutex
	open := map[string]bot.Controller{}
	return func(id string) (bot.Controller, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := open[id]; ok {
			return c, nil
		}
		cfg, ok := byID[id]
		if !ok {
			return nil, bot.Errorf(bot.KindInvalid, id, "resolve", "no bot configured with this id")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := New(ctx, cfg, d)
		if err != nil {
			return nil, &bot.Error{Kind: bot.KindInvalid, Bot: id, Op: "resolve", Message: "build controller", Err: err}
		}
		open[id] = c
		return c, nil
	}, nil
}
