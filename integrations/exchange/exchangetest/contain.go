package exchangetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// retry repeats f while it fails with a retryable kind, as the workflow's
// retry policy would (without the waiting: the simulator does not count).
func retry[T any](attempts int, f func() (T, error)) (T, error) {
	var v T
	var err error
	for i := 0; i < attempts; i++ {
		v, err = f()
		if err == nil || !exchange.KindOf(err).Retryable() {
			return v, err
		}
	}
	return v, err
}

// contain runs the containment steps the runbook's exchange actions take:
// cancel the bot's open orders (with its own, leaked key: orders live on the
// sub-account), revoke the leaked key (absent = done), and create the
// replacement trade-only key whitelisted to the bot — looking for a key with
// the step's label first, as the create action does on every attempt.
func contain(c context.Context, ex exchange.Exchange, sub string, leaked exchange.Credential, label string) (exchange.NewKey, exchange.CancelResult, error) {
	const attempts = 30
	cancelled, err := retry(attempts, func() (exchange.CancelResult, error) { return ex.CancelAllOrders(c, leaked, nil) })
	if err != nil {
		return exchange.NewKey{}, cancelled, fmt.Errorf("cancel orders: %w", err)
	}
	if _, err := retry(attempts, func() (bool, error) {
		err := ex.RevokeKey(c, sub, leaked.APIKey)
		if exchange.IsNotFound(err) {
			err = nil
		}
		return true, err
	}); err != nil {
		return exchange.NewKey{}, cancelled, fmt.Errorf("revoke: %w", err)
	}
	nk, err := retry(attempts, func() (exchange.NewKey, error) {
		if k, found, err := exchange.FindByLabel(c, ex, sub, label); err != nil {
			return exchange.NewKey{}, err
		} else if found {
			return exchange.NewKey{Key: k}, nil // made by an earlier attempt
		}
		return ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: sub, Label: label,
			Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{BotIP}})
	})
	if err != nil {
		return nk, cancelled, fmt.Errorf("create key: %w", err)
	}
	return nk, cancelled, nil
}

// checkContained asserts the end state of a containment: the attacker is
// refused with the old key and, from its address, with the new one; the bot
// trades with the new key from its own address.
func checkContained(t *testing.T, c context.Context, f *Fixture, leaked exchange.Credential, nk exchange.NewKey) {
	t.Helper()
	if nk.Secret == "" {
		t.Fatal("the new key came back without its secret (found by label, not created)")
	}
	if _, err := f.Trader(leaked, AttackerIP).PlaceOrder(c, "BTC/USDT", "sell", 0.5, 70000); exchange.KindOf(err) != exchange.KindAuthentication {
		t.Fatalf("attacker with the old key: err = %v, want authentication", err)
	}
	v, err := f.Ex.VerifyKey(c, leaked, AttackerIP)
	if err != nil || v.Authenticated || v.Rejection != exchange.KindAuthentication {
		t.Fatalf("old key verification = %+v, %v; want rejected (authentication)", v, err)
	}
	if _, err := f.Trader(nk.Credential(), AttackerIP).PlaceOrder(c, "BTC/USDT", "sell", 0.5, 70000); exchange.KindOf(err) != exchange.KindPermission {
		t.Fatalf("attacker with the new key from %s: err = %v, want permission (IP refused)", AttackerIP, err)
	}
	v, err = f.Ex.VerifyKey(c, nk.Credential(), BotIP)
	if err != nil || !v.Authenticated || !v.Permissions.Trade || v.Permissions.Withdraw ||
		!exchange.SameIPs(v.IPWhitelist, []string{BotIP}) {
		t.Fatalf("new key from the bot = %+v, %v; want trade-only, whitelisted to %s", v, err, BotIP)
	}
	if _, err := f.Trader(nk.Credential(), BotIP).PlaceOrder(c, "BTC/USDT", "buy", 0.01, 45000); err != nil {
		t.Fatalf("bot trading with the new key: %v", err)
	}
	for _, call := range f.Sim.Calls(exchangesim.CallFilter{ClientIP: AttackerIP}) {
		// Bybit (and OKX for some codes) answer refusals with HTTP 200: an
		// accepted order is a 200 without an error code.
		if call.Op == "place_order" && call.Status == 200 && call.Code == "" && call.KeyID != leaked.APIKey {
			t.Fatalf("attacker placed an order with key %s after containment", call.KeyID)
		}
	}
}
