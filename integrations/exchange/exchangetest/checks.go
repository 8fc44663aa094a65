package exchangetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// TradeOnlyKeyCannotWithdraw creates a trade-only key for the bot and checks
// that it trades but cannot withdraw. It returns the fixture and the key for
// the exchange's own checks.
func TradeOnlyKeyCannotWithdraw(t *testing.T, d Dialect) (*Fixture, exchange.NewKey) {
	f := New(t, d)
	c := Ctx(t)
	nk, err := f.Ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: f.Sub(), Label: "trade-only",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{BotIP}})
	if err != nil {
		t.Fatal(err)
	}
	tr := f.Trader(nk.Credential(), BotIP)
	if _, err := tr.Withdraw(c, "USDT", 10, "0xattacker"); exchange.KindOf(err) != exchange.KindPermission {
		t.Fatalf("withdraw with trade-only key: err = %v, want permission", err)
	}
	if _, err := tr.PlaceOrder(c, "BTC/USDT", "buy", 0.01, 40000); err != nil {
		t.Fatalf("trade with trade-only key: %v", err)
	}
	if w := f.Sim.Withdrawals(); len(w) != 0 {
		t.Fatalf("withdrawals = %+v", w)
	}
	return f, nk
}

// FaultsAreClassified checks that injected 429s (with Retry-After), 503s and
// dropped connections come back as the kinds the retry policy acts on.
func FaultsAreClassified(t *testing.T, d Dialect) {
	f := New(t, d)
	c := Ctx(t)
	f.Sim.SetFaults(exchangesim.Faults{RateLimit: 1, RetryAfter: 3 * time.Second})
	_, err := f.Ex.ListKeys(c, f.Sub())
	var e *exchange.Error
	if !errors.As(err, &e) || e.Kind != exchange.KindRateLimited || e.RetryAfter != 3*time.Second {
		t.Fatalf("err = %v, want rate limited with Retry-After 3s", err)
	}
	f.Sim.SetFaults(exchangesim.Faults{ServerError: 1})
	if _, err := f.Ex.ListKeys(c, f.Sub()); exchange.KindOf(err) != exchange.KindUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	f.Sim.SetFaults(exchangesim.Faults{Drop: 1})
	if _, err := f.Ex.ListKeys(c, f.Sub()); exchange.KindOf(err) != exchange.KindNetwork {
		t.Fatalf("err = %v, want network", err)
	}
	f.Sim.SetFaults(exchangesim.Faults{})
	if _, err := f.Ex.ListKeys(c, f.Sub()); err != nil {
		t.Fatalf("after faults: %v", err)
	}
}

// CancelAllOrdersAndVerify: with the demo bot's key, CancelAllOrders cancels
// the two demo orders and one more on another symbol, and a second call
// finds nothing; more (nil = none) runs the exchange's own cancel checks.
// Then the key verifies from the bot's address, as the simulator saw, and
// an unknown key is refused rather than failing the check.
func CancelAllOrdersAndVerify(t *testing.T, d Dialect, more func(t *testing.T, c context.Context, f *Fixture, bot exchange.Credential)) {
	f := New(t, d)
	c := Ctx(t)
	bot := f.BotCred()
	if _, err := f.Trader(bot, BotIP).PlaceOrder(c, "ETH/USDT", "sell", 1, 3500); err != nil {
		t.Fatalf("place order: %v", err)
	}
	res, err := f.Ex.CancelAllOrders(c, bot, nil)
	if err != nil {
		t.Fatalf("cancel all: %v", err)
	}
	if len(res.Cancelled) != 3 || len(res.Symbols) != 2 {
		t.Fatalf("cancelled %v on %v, want 3 orders on BTC/USDT and ETH/USDT", res.Cancelled, res.Symbols)
	}
	if open := f.Sim.OpenOrders(f.Demo.Sub.ID, ""); len(open) != 0 {
		t.Fatalf("still open: %+v", open)
	}
	// Idempotent: nothing left is success with nothing cancelled.
	res, err = f.Ex.CancelAllOrders(c, bot, nil)
	if err != nil || len(res.Cancelled) != 0 {
		t.Fatalf("second cancel all = %+v, %v", res, err)
	}
	if more != nil {
		more(t, c, f, bot)
	}

	v, err := f.Ex.VerifyKey(c, bot, BotIP)
	if err != nil || !v.Authenticated || !v.Permissions.Trade || !v.Permissions.Withdraw || len(v.IPWhitelist) != 0 {
		t.Fatalf("verify demo bot key = %+v, %v", v, err)
	}
	calls := f.Sim.Calls(exchangesim.CallFilter{Op: "api_restrictions", KeyID: bot.APIKey})
	if len(calls) != 1 || calls[0].ClientIP != BotIP {
		t.Fatalf("verify calls = %+v, want one from %s", calls, BotIP)
	}
	v, err = f.Ex.VerifyKey(c, exchange.Credential{APIKey: "nope", Secret: "nope", Passphrase: "nope"}, "")
	if err != nil || v.Authenticated || v.Rejection != exchange.KindAuthentication {
		t.Fatalf("verify unknown key = %+v, %v", v, err)
	}
}
