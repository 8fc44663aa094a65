package okx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/okx"
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
			Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{botIP}})
	})
	if err != nil {
		return nk, cancelled, fmt.Errorf("create key: %w", err)
	}
	return nk, cancelled, nil
}

// checkContained asserts the end state of a containment: the attacker is
// refused with the old key and, from its address, with the new one; the bot
// trades with the new key from its own address.
func checkContained(t *testing.T, c context.Context, f *fixture, leaked exchange.Credential, nk exchange.NewKey) {
	t.Helper()
	if nk.Secret == "" {
		t.Fatal("the new key came back without its secret (found by label, not created)")
	}
	if _, err := trader(f, leaked, attackerIP).PlaceOrder(c, "BTC/USDT", "sell", 0.5, 70000); exchange.KindOf(err) != exchange.KindAuthentication {
		t.Fatalf("attacker with the old key: err = %v, want authentication", err)
	}
	v, err := f.ex.VerifyKey(c, leaked, attackerIP)
	if err != nil || v.Authenticated || v.Rejection != exchange.KindAuthentication {
		t.Fatalf("old key verification = %+v, %v; want rejected (authentication)", v, err)
	}
	if _, err := trader(f, nk.Credential(), attackerIP).PlaceOrder(c, "BTC/USDT", "sell", 0.5, 70000); exchange.KindOf(err) != exchange.KindPermission {
		t.Fatalf("attacker with the new key from %s: err = %v, want permission (IP refused)", attackerIP, err)
	}
	v, err = f.ex.VerifyKey(c, nk.Credential(), botIP)
	if err != nil || !v.Authenticated || !v.Permissions.Trade || v.Permissions.Withdraw ||
		!exchange.SameIPs(v.IPWhitelist, []string{botIP}) {
		t.Fatalf("new key from the bot = %+v, %v; want trade-only, whitelisted to %s", v, err, botIP)
	}
	if _, err := trader(f, nk.Credential(), botIP).PlaceOrder(c, "BTC/USDT", "buy", 0.01, 45000); err != nil {
		t.Fatalf("bot trading with the new key: %v", err)
	}
	for _, call := range f.sim.Calls(exchangesim.CallFilter{ClientIP: attackerIP}) {
		if call.Op == "place_order" && call.Status == 200 && call.KeyID != leaked.APIKey {
			t.Fatalf("attacker placed an order with key %s after containment", call.KeyID)
		}
	}
}

func TestLeakedKeyScenario(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	sub := f.demo.Sub.Name
	leaked := botCred(f.demo)

	// The attacker trades with the leaked key from its own address.
	if _, err := trader(f, leaked, attackerIP).PlaceOrder(c, "BTC/USDT", "sell", 0.5, 70000); err != nil {
		t.Fatalf("attacker with the leaked key before containment: %v", err)
	}

	nk, cancelled, err := contain(c, f.ex, sub, leaked, "rb-inc42-create_key")
	if err != nil {
		t.Fatal(err)
	}
	if len(cancelled.Cancelled) != 3 { // two demo orders and the attacker's
		t.Fatalf("cancelled %v, want 3 orders", cancelled.Cancelled)
	}
	if k, _ := f.sim.Key(okx.Name, leaked.APIKey); !k.Revoked {
		t.Fatal("leaked key not revoked")
	}
	checkContained(t, c, f, leaked, nk)

	live := f.sim.Keys(okx.Name, f.demo.Sub.ID, false)
	if len(live) != 1 || live[0].ID != nk.ID {
		t.Fatalf("live keys on the bot's sub-account = %d, want only the new one", len(live))
	}
}

func TestContainmentUnderFaults(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	sub := f.demo.Sub.Name
	leaked := botCred(f.demo)
	const label = "rb-inc43-create_key"

	// 30 % of requests answer 429 (with Retry-After) or 503.
	f.sim.SetFaults(exchangesim.Faults{RateLimit: 0.15, ServerError: 0.15, Exchanges: []string{okx.Name}, Seed: 43})
	nk, _, err := contain(c, f.ex, sub, leaked, label)
	if err != nil {
		t.Fatal(err)
	}
	f.sim.SetFaults(exchangesim.Faults{})

	injected := f.sim.InjectedFaults()
	if injected[exchangesim.FaultRateLimit] == 0 || injected[exchangesim.FaultServerError] == 0 {
		t.Fatalf("injected faults = %v, want both kinds", injected)
	}
	faulted := 0
	for _, call := range f.sim.Calls(exchangesim.CallFilter{Exchange: okx.Name}) {
		// A faulted call never reaches the dialect, so it has no Op: match the path.
		if call.Fault != "" && strings.HasPrefix(call.Path, "/api/v5/users/subaccount/") {
			faulted++
		}
	}
	if faulted == 0 {
		t.Fatal("no key-management call was faulted: the run proves nothing")
	}
	t.Logf("injected %v; %d key-management calls faulted", injected, faulted)

	// The call log proves exactly one key was created, and it is this one.
	created := f.sim.Calls(exchangesim.CallFilter{Exchange: okx.Name, Op: "create_key", OnlyOK: true})
	if len(created) != 1 || !strings.Contains(created[0].Result, nk.ID) {
		t.Fatalf("successful create_key calls = %+v, want exactly one creating %s", created, nk.ID)
	}
	revoked := f.sim.Calls(exchangesim.CallFilter{Exchange: okx.Name, Op: "revoke_key", OnlyOK: true})
	if len(revoked) != 1 || !strings.Contains(revoked[0].Result, leaked.APIKey) {
		t.Fatalf("successful revoke_key calls = %+v, want exactly one revoking the leaked key", revoked)
	}
	live := f.sim.Keys(okx.Name, f.demo.Sub.ID, false)
	if len(live) != 1 || live[0].ID != nk.ID || live[0].Label != label {
		t.Fatalf("live keys on the bot's sub-account = %d, want only the new one", len(live))
	}
	checkContained(t, c, f, leaked, nk)
}
