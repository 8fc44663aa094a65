package exchangetest

import (
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
