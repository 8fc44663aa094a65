package okx_test

import (
	"context"
	"fmt"
	"strconv"
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
		// Bybit (and OKX for some codes) answer refusals with HTTP 200: an
		// accepted order is a 200 without an error code.
		if call.Op == "place_order" && call.Status == 200 && call.Code == "" && call.KeyID != leaked.APIKey {
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

// TestContainmentUnderFaults runs the containment while 30 % of requests
// answer 429 (with Retry-After) or 503, over several fault sequences, and
// checks with the simulator's call log that each run created exactly one
// key and revoked the leaked one exactly once.
func TestContainmentUnderFaults(t *testing.T) {
	createFaulted := 0
	for seed := int64(41); seed <= 48; seed++ {
		t.Run("seed="+strconv.FormatInt(seed, 10), func(t *testing.T) {
			createFaulted += containUnderFaults(t, seed)
		})
	}
	if createFaulted == 0 {
		t.Fatal("no create-key request was ever faulted: the runs prove nothing about duplicates")
	}
	t.Logf("%d create-key requests faulted across the runs", createFaulted)
}

// ok reports a call the dialect answered with success (OKX answers some
// refusals with HTTP 200 and an error code).
func ok(c exchangesim.Call) bool { return c.Status == 200 && c.Code == "" }

func containUnderFaults(t *testing.T, seed int64) (createFaulted int) {
	f := newFixture(t)
	c := ctx(t)
	sub := f.demo.Sub.Name
	leaked := botCred(f.demo)
	label := "rb-inc" + strconv.FormatInt(seed, 10) + "-create_key"

	f.sim.SetFaults(exchangesim.Faults{RateLimit: 0.15, ServerError: 0.15, Exchanges: []string{okx.Name}, Seed: seed})
	nk, _, err := contain(c, f.ex, sub, leaked, label)
	if err != nil {
		t.Fatal(err)
	}
	f.sim.SetFaults(exchangesim.Faults{})

	var created, revoked []exchangesim.Call
	for _, call := range f.sim.Calls(exchangesim.CallFilter{Exchange: okx.Name}) {
		switch {
		// A faulted call never reaches the dialect, so it has no Op: match the path.
		case call.Fault != "" && call.Method == "POST" && call.Path == "/api/v5/users/subaccount/apikey":
			createFaulted++
		case call.Op == "create_key" && ok(call):
			created = append(created, call)
		case call.Op == "revoke_key" && ok(call):
			revoked = append(revoked, call)
		}
	}
	t.Logf("injected %v; %d create-key requests faulted", f.sim.InjectedFaults(), createFaulted)
	if len(created) != 1 || !strings.Contains(created[0].Result, nk.ID) {
		t.Fatalf("successful create_key calls = %+v, want exactly one creating %s", created, nk.ID)
	}
	if len(revoked) != 1 || !strings.Contains(revoked[0].Result, leaked.APIKey) {
		t.Fatalf("successful revoke_key calls = %+v, want exactly one revoking the leaked key", revoked)
	}
	live := f.sim.Keys(okx.Name, f.demo.Sub.ID, false)
	if len(live) != 1 || live[0].ID != nk.ID || live[0].Label != label {
		t.Fatalf("live keys on the bot's sub-account = %d, want only the new one", len(live))
	}
	checkContained(t, c, f, leaked, nk)
	return createFaulted
}

// TestLostCreateAnswer: the create request succeeds but its answer is lost
// (connection reset after the handler ran). The retry must not make a second
// key: the label finds the first one, and OKX itself refuses a duplicate
// label (59502). The secret of that first key is lost with the answer, so
// the create action has to revoke it and create again under a fresh label.
func TestLostCreateAnswer(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	sub := f.demo.Sub.Name
	req := exchange.CreateKeyRequest{SubAccount: sub, Label: "rb-inc9-create_key",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{botIP}}
	f.sim.SetFaults(exchangesim.Faults{DropAfter: 1, PathPrefixes: []string{"/api/v5/users/subaccount/apikey"}})
	if _, err := f.ex.CreateKey(c, req); exchange.KindOf(err) != exchange.KindNetwork {
		t.Fatalf("create with a lost answer: err = %v, want network", err)
	}
	f.sim.SetFaults(exchangesim.Faults{})
	k, found, err := exchange.FindByLabel(c, f.ex, sub, req.Label)
	if err != nil || !found || !exchange.SameIPs(k.IPWhitelist, []string{botIP}) || k.Permissions.Withdraw {
		t.Fatalf("find by label = %+v, %v, %v; want the key made by the lost request", k, found, err)
	}
	if _, err := f.ex.CreateKey(c, req); exchange.KindOf(err) != exchange.KindInvalid || code(err) != "59502" {
		t.Fatalf("second create with the same label: err = %v, want invalid 59502", err)
	}
	if n := len(f.sim.Keys(okx.Name, f.demo.Sub.ID, false)); n != 2 { // the demo bot key and this one
		t.Fatalf("live keys = %d, want 2", n)
	}
}
