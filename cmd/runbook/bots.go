package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/activities"
	botact "github.com/keyresponse/runbook/activities/bot"
	exact "github.com/keyresponse/runbook/activities/exchange"
	"github.com/keyresponse/runbook/cmd/runbook/config"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/botfactory"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/secrets"
)

// botSetup is everything the bot actions need: controller configs and the
// facts bot.info answers with.
type botSetup struct {
	controllers []ibot.BotConfig
	facts       map[string]botFacts
	// accounts are exchange accounts the bots add (the bench's fleets use
	// aliases of the simulator's account so an account-wide breach of one
	// fleet touches no other bot).
	accounts map[string]xchg.Config
}

// botFacts is one bot's static configuration; the current key comes from
// the secret store at lookup time (it changes with every rotation).
type botFacts struct {
	account       string
	subAccount    string
	ips           []string
	engineIPs     []string
	keyID         string
	credentialRef string
	verifyFrom    string
}

// botsFromConfig turns the config's bots section into a botSetup.
func botsFromConfig(c *config.Config) botSetup {
	s := botSetup{facts: map[string]botFacts{}}
	engineIPs := map[string][]string{}
	for _, e := range c.Exchanges {
		engineIPs[e.Name] = e.EngineIPs
	}
	for _, b := range c.Bots {
		s.controllers = append(s.controllers, ibot.BotConfig{
			ID: b.ID, Kind: ibot.Kind(b.Kind), URL: b.URL, PasswordRef: b.PasswordRef, SecretsConfigPath: b.SecretsFilePath,
			Account: b.Account, Exchange: exchangeOf(c, b.Account),
			Username: b.Username, PasswordEnv: b.PasswordEnv,
			SigningKeyRef: b.Options["signing_key_ref"], SigningKeyEnv: b.Options["signing_key_env"], PublicKey: b.Options["public_key"],
			EngineKeyRef: b.Options["engine_key_ref"], EngineKeyEnv: b.Options["engine_key_env"], Subject: b.Options["subject"],
		})
		s.facts[b.ID] = botFacts{account: b.Account, subAccount: b.SubAccount, ips: b.IPs, engineIPs: engineIPs[b.Account],
			keyID: b.KeyID, credentialRef: b.CredentialRef, verifyFrom: b.Options["verify_from"]}
	}
	return s
}

func exchangeOf(c *config.Config, account string) string {
	for _, e := range c.Exchanges {
		if e.Name == account {
			return e.Exchange
		}
	}
	return ""
}

// botActions builds the bot actions over the setup.
func botActions(s botSetup, accounts map[string]xchg.Config, store secrets.Store, nc *nats.Conn) ([]activities.Action, error) {
	reader := secretReader{store}
	bots, err := botfactory.Resolver(s.controllers, botfactory.Deps{Secrets: reader, NATS: nc})
	if err != nil {
		return nil, fmt.Errorf("bots: %w", err)
	}
	info := func(ctx context.Context, id string) (botact.Info, error) {
		f, ok := s.facts[id]
		if !ok {
			return botact.Info{}, activities.NonRetryable(activities.ErrInvalidParams, fmt.Errorf("no bot %q in the configuration", id))
		}
		acct, ok := accounts[f.account]
		if !ok {
			return botact.Info{}, activities.NonRetryable(activities.ErrInvalidParams, fmt.Errorf("bot %s: no exchange account %q", id, f.account))
		}
		in := botact.Info{Account: f.account, Exchange: acct.Exchange, SubAccount: f.subAccount, IPs: f.ips,
			EngineIPs: f.engineIPs, KeyID: f.keyID, SecretName: f.credentialRef, VerifyFrom: f.verifyFrom}
		if in.SecretName == "" {
			in.SecretName = exact.DefaultSecretName(acct.Exchange, f.subAccount)
		}
		if store != nil {
			versions, err := store.Versions(ctx, in.SecretName)
			if err != nil && !errors.Is(err, secrets.ErrNotFound) {
				return botact.Info{}, activities.Retryable(botact.ErrSecretStore, err)
			}
			for _, v := range versions {
				if v.Current {
					in.CredentialRef = v.Ref.String()
					if k := v.Meta["key_id"]; k != "" {
						in.KeyID = k
					}
				}
			}
		}
		return in, nil
	}
	return botact.Actions(botact.Deps{Bots: bots, Secrets: reader, Info: info, BotsOn: s.botsOn}), nil
}

// secretReader adapts the secret store to the bot package's reader; a
// missing secret is not worth retrying.
type secretReader struct{ store secrets.Store }

func (r secretReader) Get(ctx context.Context, ref string) ([]byte, error) {
	if r.store == nil {
		return nil, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no secret store configured"))
	}
	parsed, err := secrets.ParseRef(ref)
	if err != nil {
		return nil, activities.NonRetryable(activities.ErrInvalidParams, err)
	}
	v, err := r.store.Get(ctx, parsed)
	if errors.Is(err, secrets.ErrNotFound) {
		return nil, activities.NonRetryable(activities.ErrNotFound, fmt.Errorf("secret %s not found", ref))
	}
	return v, err
}
