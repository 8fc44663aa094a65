package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade/freqtradesim"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/secrets"
)

// The demo bot: a simulated freqtrade on 127.0.0.1 that trades on the
// exchange simulator's Binance dialect from 127.0.0.10 with whatever key is
// in its secrets file, so `runbook dev` shows a bot trading, a breach, and
// the bot trading again on its new key.
const (
	demoExchange = "binance"
	demoBotIP    = "127.0.0.10"
	demoEngineIP = "127.0.0.1"
)

type demoBot struct {
	sim   *freqtradesim.Sim
	setup botSetup
}

func startDemoBot(ctx context.Context, o devOptions, ex *devExchange, store secrets.Store) (*demoBot, error) {
	acct, ok := ex.demo.Find(demoExchange)
	if !ok {
		return nil, fmt.Errorf("demo bot: no %s demo account", demoExchange)
	}
	dir := filepath.Join(o.home, "bots", o.demoBot)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	secretsFile := filepath.Join(dir, "secrets.json")
	// The bot starts with the demo account's (sloppy) key, as if someone
	// had configured it by hand.
	if err := writeFreqtradeSecrets(secretsFile, acct.Bot.ID, acct.Bot.Secret); err != nil {
		return nil, err
	}
	password := randomHex(16)
	passwordRef := "bots/" + o.demoBot + "/api-password"
	if _, err := store.Put(ctx, passwordRef, []byte(password), map[string]string{"bot": o.demoBot}); err != nil {
		return nil, err
	}
	adapter, err := xchg.Open(xchg.Config{Exchange: demoExchange, BaseURL: acct.BaseURL})
	if err != nil {
		return nil, err
	}
	trader, _ := adapter.(xchg.TraderProvider)
	sim, err := freqtradesim.New(freqtradesim.Options{
		BotName:           o.demoBot,
		Password:          password,
		InitialState:      "running",
		SecretsConfigPath: secretsFile,
		Exchange:          demoExchange,
		OpenTrades:        1,
		TradeEvery:        2 * time.Second,
		Trader: func(ctx context.Context, c ibot.Credentials) error {
			if trader == nil {
				return nil
			}
			_, err := trader.Trader(xchg.Credential{APIKey: c.APIKey, Secret: c.Secret, Passphrase: c.Passphrase}, demoBotIP).
				PlaceOrder(ctx, "BTC/USDT", "buy", 0.001, 1000)
			return err
		},
	})
	if err != nil {
		return nil, err
	}
	if err := sim.Start(net.JoinHostPort("127.0.0.1", strconv.Itoa(o.demoBotPort))); err != nil {
		return nil, fmt.Errorf("demo bot: %w (try --demo-bot-port)", err)
	}
	sub := subAccountRef(demoExchange, acct.Sub)
	return &demoBot{sim: sim, setup: botSetup{
		controllers: []ibot.BotConfig{{ID: o.demoBot, Kind: ibot.KindFreqtrade, URL: sim.URL(), Username: "freqtrader",
			PasswordRef: passwordRef, SecretsConfigPath: secretsFile, Exchange: demoExchange, Account: demoExchange}},
		facts: map[string]botFacts{o.demoBot: {account: demoExchange, subAccount: sub, ips: []string{demoBotIP},
			engineIPs: []string{demoEngineIP}, keyID: acct.Bot.ID, verifyFrom: demoBotIP}},
	}}, nil
}

func (d *demoBot) close() {
	if d != nil && d.sim != nil {
		d.sim.Close()
	}
}

// writeFreqtradeSecrets writes the extra config file freqtrade merges
// (mode 0600, atomically).
func writeFreqtradeSecrets(path, key, secret string) error {
	b, _ := json.Marshal(map[string]any{"exchange": map[string]string{"key": key, "secret": secret}})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func mergeBots(a, b botSetup) botSetup {
	out := botSetup{controllers: append(append([]ibot.BotConfig{}, a.controllers...), b.controllers...), facts: map[string]botFacts{}}
	for k, v := range a.facts {
		out.facts[k] = v
	}
	for k, v := range b.facts {
		out.facts[k] = v
	}
	for _, m := range []map[string]xchg.Config{a.accounts, b.accounts} {
		for k, v := range m {
			if out.accounts == nil {
				out.accounts = map[string]xchg.Config{}
			}
			out.accounts[k] = v
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
