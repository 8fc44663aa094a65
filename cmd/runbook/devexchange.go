package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	xchg "github.com/keyresponse/runbook/integrations/exchange"
	_ "github.com/keyresponse/runbook/integrations/exchange/binance" // adapters register themselves
	_ "github.com/keyresponse/runbook/integrations/exchange/bybit"
	_ "github.com/keyresponse/runbook/integrations/exchange/okx"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/simall"
	"github.com/keyresponse/runbook/integrations/secrets"

	exact "github.com/keyresponse/runbook/activities/exchange"
)

// devExchange is the exchange simulator `runbook dev` runs, seeded with a
// demo account per exchange: a management key (stored in the secret store,
// never given to the bot) and a bot sub-account with a deliberately sloppy
// key (trade + withdraw, no IP whitelist) for the breach runbook to replace.
type devExchange struct {
	sim  *exchangesim.Sim
	demo exchangesim.Demo
	// accounts maps the exchange account name runbooks use to its config.
	accounts map[string]xchg.Config
}

// startDevExchange starts the simulator on 127.0.0.1:port (0 = any free
// port), seeds the demo and stores its credentials in the secret store. The
// simulator's state is in memory: each start seeds a fresh demo.
func startDevExchange(ctx context.Context, port int, bot string, store secrets.Store, log *slog.Logger) (*devExchange, error) {
	sim := simall.New(exchangesim.Options{Logger: log})
	if err := sim.Start(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		return nil, fmt.Errorf("exchange simulator: %w (is port %d taken? try --exchangesim-port)", err, port)
	}
	demo, err := sim.SeedDemo(exchangesim.DemoOptions{Bot: bot})
	if err != nil {
		sim.Close()
		return nil, fmt.Errorf("exchange simulator demo: %w", err)
	}
	d := &devExchange{sim: sim, demo: demo, accounts: map[string]xchg.Config{}}
	for _, a := range demo.Accounts {
		mgmtRef := a.Exchange + "/management"
		if _, err := store.Put(ctx, mgmtRef, exact.EncodeCredential(credOf(a.Management)), map[string]string{"key_id": a.Management.ID, "role": "management"}); err != nil {
			sim.Close()
			return nil, err
		}
		botRef := exact.DefaultSecretName(a.Exchange, subAccountRef(a.Exchange, a.Sub))
		if _, err := store.Put(ctx, botRef, exact.EncodeCredential(credOf(a.Bot)), map[string]string{"key_id": a.Bot.ID, "role": "bot"}); err != nil {
			sim.Close()
			return nil, err
		}
		d.accounts[a.Exchange] = xchg.Config{Exchange: a.Exchange, BaseURL: a.BaseURL, ManagementKeyRef: mgmtRef}
	}
	return d, nil
}

func credOf(k exchangesim.Key) xchg.Credential {
	return xchg.Credential{APIKey: k.ID, Secret: k.Secret, Passphrase: k.Passphrase}
}

// subAccountRef is how each exchange's key-management API names a
// sub-account: Binance by email, OKX by name, Bybit by numeric uid.
func subAccountRef(exchange string, a exchangesim.Account) string {
	switch exchange {
	case "binance":
		return a.Email
	case "bybit":
		return a.UID
	default:
		return a.Name
	}
}

func (d *devExchange) close() {
	if d != nil && d.sim != nil {
		d.sim.Close()
	}
}
