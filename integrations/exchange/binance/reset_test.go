package binance

import (
	"errors"
	"testing"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
	"github.com/keyresponse/runbook/integrations/exchange/exchangetest"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/binancesim"
)

// After a successful call through Request with api "private", ccxt sets
// hasAlreadyAuthenticatedSuccessfully on the client and from then on raises
// -2015 as DDoSProtection (a "temporary ban") instead of
// AuthenticationError. A pooled client must not carry that into the next
// lease: the revoked key's refusal must look the same as on a fresh client.
func TestPooledClientForgetsEarlierAuthentication(t *testing.T) {
	f := exchangetest.New(t, exchangetest.Dialect{
		Name: Name, Sim: func() exchangesim.Dialect { return binancesim.New() }, Seed: 3,
		SubAccount: func(a exchangesim.Account) string { return a.Email },
	})
	c := exchangetest.Ctx(t)
	a := f.Ex.(*Adapter)
	bot := f.BotCred()
	flag := func(ex *ccxt.Binance) bool {
		v, _ := ex.Options.Load("hasAlreadyAuthenticatedSuccessfully")
		return v == true
	}
	var warmed *ccxt.Binance
	if err := a.with(c, ccxtutil.ForBot, bot, "", func(ex *ccxt.Binance) error {
		warmed = ex
		_, err := a.call(c, ex, "open_orders", "openOrders", "private", "GET", map[string]interface{}{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !flag(warmed) {
		t.Fatal("ccxt did not set hasAlreadyAuthenticatedSuccessfully: this test no longer exercises the reset")
	}
	if err := f.Sim.RevokeKey(Name, bot.APIKey); err != nil {
		t.Fatal(err)
	}
	var leased *ccxt.Binance
	_, err := a.CancelAllOrders(c, bot, nil)
	_ = a.with(c, ccxtutil.ForBot, bot, "", func(ex *ccxt.Binance) error { leased = ex; return nil })
	var ce *ccxt.Error
	if !errors.As(err, &ce) || ce.Type != ccxt.AuthenticationErrorErrType || exchange.KindOf(err) != exchange.KindAuthentication {
		t.Fatalf("revoked key on a pooled client: %v (ccxt type %v), want AuthenticationError", err, ce)
	}
	if leased == warmed {
		t.Fatal("the client that saw the authentication failure was leased again")
	}
}
