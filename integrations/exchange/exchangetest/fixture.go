// Package exchangetest runs an exchange adapter, through the real ccxt
// client, against the simulator's dialect for that exchange, and holds the
// scenarios every adapter must pass. Only tests import it.
package exchangetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/simtest"
)

// Clients bind distinct loopback source addresses so the simulator's
// whitelist (TCP peer) sees engine, bot and attacker apart.
const (
	EngineIP   = "127.0.0.1"
	BotIP      = "127.0.0.10"
	AttackerIP = "127.0.0.66"
)

// Dialect is what differs between the exchanges the scenarios run on.
type Dialect struct {
	// Name is the exchange id (the adapter's package must be imported).
	Name string
	// Sim builds the simulator's dialect for the exchange.
	Sim func() exchangesim.Dialect
	// Seed seeds the simulator (ids, secrets).
	Seed int64
	// Passphrase: the exchange's keys carry one (OKX).
	Passphrase bool
	// SubAccount is how the adapter names a sub-account (OKX: name, Bybit:
	// uid, Binance: email).
	SubAccount func(exchangesim.Account) string
	// CreateKeyPath is the create-key endpoint's path, to find faulted
	// create requests in the call log (a faulted call has no Op).
	CreateKeyPath string
}

// Fixture is a running simulator seeded with the demo accounts, and the
// adapter configured with the demo management key.
type Fixture struct {
	D    Dialect
	Sim  *exchangesim.Sim
	Demo exchangesim.DemoAccount
	Ex   exchange.Exchange
	Cfg  exchange.Config
}

// New starts the simulator for d and opens the adapter; both stop with t.
func New(t *testing.T, d Dialect) *Fixture {
	t.Helper()
	sim, demo := simtest.Start(t, exchangesim.Options{Seed: d.Seed, Dialects: []exchangesim.Dialect{d.Sim()}},
		exchangesim.DemoOptions{EngineIPs: []string{EngineIP}}, d.Name)
	f := &Fixture{D: d, Sim: sim, Demo: demo}
	f.Cfg = exchange.Config{
		Exchange:   d.Name,
		BaseURL:    sim.DialectURL(d.Name),
		LocalAddr:  EngineIP,
		Management: f.Cred(demo.Management),
	}
	var err error
	if f.Ex, err = exchange.Open(f.Cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

// Ctx is a context for one test, cancelled when it ends.
func Ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// Cred is the credential of a simulator key, with its passphrase only where
// the exchange has one.
func (f *Fixture) Cred(k exchangesim.Key) exchange.Credential {
	c := exchange.Credential{APIKey: k.ID, Secret: k.Secret}
	if f.D.Passphrase {
		c.Passphrase = k.Passphrase
	}
	return c
}

// BotCred is the demo bot's (sloppy: withdraw on, no whitelist) key.
func (f *Fixture) BotCred() exchange.Credential { return f.Cred(f.Demo.Bot) }

// Sub is the demo bot's sub-account as the adapter names it.
func (f *Fixture) Sub() string { return f.D.SubAccount(f.Demo.Sub) }

// Trader is a plain client on cred, sending from the address from.
func (f *Fixture) Trader(cred exchange.Credential, from string) exchange.Trader {
	return f.Ex.(exchange.TraderProvider).Trader(cred, from)
}

// Code is the exchange's own error code in err ("" when none).
func Code(err error) string {
	var e *exchange.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
