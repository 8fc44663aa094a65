package exchangetest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// LeakedKeyScenario: the attacker trades with the leaked bot key; the
// containment cancels its orders, revokes the key and creates a trade-only
// replacement whitelisted to the bot, which the attacker cannot use.
func LeakedKeyScenario(t *testing.T, d Dialect) {
	f := New(t, d)
	c := Ctx(t)
	leaked := f.BotCred()

	// The attacker trades with the leaked key from its own address.
	if _, err := f.Trader(leaked, AttackerIP).PlaceOrder(c, "BTC/USDT", "sell", 0.5, 70000); err != nil {
		t.Fatalf("attacker with the leaked key before containment: %v", err)
	}

	nk, cancelled, err := contain(c, f.Ex, f.Sub(), leaked, "rb-inc42-create_key")
	if err != nil {
		t.Fatal(err)
	}
	if len(cancelled.Cancelled) != 3 { // two demo orders and the attacker's
		t.Fatalf("cancelled %v, want 3 orders", cancelled.Cancelled)
	}
	if k, _ := f.Sim.Key(d.Name, leaked.APIKey); !k.Revoked {
		t.Fatal("leaked key not revoked")
	}
	checkContained(t, c, f, leaked, nk)

	live := f.Sim.Keys(d.Name, f.Demo.Sub.ID, false)
	if len(live) != 1 || live[0].ID != nk.ID {
		t.Fatalf("live keys on the bot's sub-account = %d, want only the new one", len(live))
	}
}

// ContainmentUnderFaults runs the containment while 30 % of requests answer
// 429 (with Retry-After) or 503, over several fault sequences, and checks
// with the simulator's call log that each run created exactly one key and
// revoked the leaked one exactly once.
func ContainmentUnderFaults(t *testing.T, d Dialect) {
	createFaulted := 0
	for seed := int64(41); seed <= 48; seed++ {
		t.Run("seed="+strconv.FormatInt(seed, 10), func(t *testing.T) {
			createFaulted += containUnderFaults(t, d, seed)
		})
	}
	if createFaulted == 0 {
		t.Fatal("no create-key request was ever faulted: the runs prove nothing about duplicates")
	}
	t.Logf("%d create-key requests faulted across the runs", createFaulted)
}

// ok reports a call the dialect answered with success (OKX and Bybit answer
// some refusals with HTTP 200 and an error code).
func ok(c exchangesim.Call) bool { return c.Status == 200 && c.Code == "" }

func containUnderFaults(t *testing.T, d Dialect, seed int64) (createFaulted int) {
	f := New(t, d)
	c := Ctx(t)
	leaked := f.BotCred()
	label := "rb-inc" + strconv.FormatInt(seed, 10) + "-create_key"

	f.Sim.SetFaults(exchangesim.Faults{RateLimit: 0.15, ServerError: 0.15, Exchanges: []string{d.Name}, Seed: seed})
	nk, _, err := contain(c, f.Ex, f.Sub(), leaked, label)
	if err != nil {
		t.Fatal(err)
	}
	f.Sim.SetFaults(exchangesim.Faults{})

	var created, revoked []exchangesim.Call
	for _, call := range f.Sim.Calls(exchangesim.CallFilter{Exchange: d.Name}) {
		switch {
		// A faulted call never reaches the dialect, so it has no Op: match the path.
		case call.Fault != "" && call.Method == "POST" && call.Path == d.CreateKeyPath:
			createFaulted++
		case call.Op == "create_key" && ok(call):
			created = append(created, call)
		case call.Op == "revoke_key" && ok(call):
			revoked = append(revoked, call)
		}
	}
	t.Logf("injected %v; %d create-key requests faulted", f.Sim.InjectedFaults(), createFaulted)
	if len(created) != 1 || !strings.Contains(created[0].Result, nk.ID) {
		t.Fatalf("successful create_key calls = %+v, want exactly one creating %s", created, nk.ID)
	}
	if len(revoked) != 1 || !strings.Contains(revoked[0].Result, leaked.APIKey) {
		t.Fatalf("successful revoke_key calls = %+v, want exactly one revoking the leaked key", revoked)
	}
	live := f.Sim.Keys(d.Name, f.Demo.Sub.ID, false)
	if len(live) != 1 || live[0].ID != nk.ID || live[0].Label != label {
		t.Fatalf("live keys on the bot's sub-account = %d, want only the new one", len(live))
	}
	checkContained(t, c, f, leaked, nk)
	return createFaulted
}

// LostCreateAnswer: the create request succeeds but its answer is lost
// (connection reset after the handler ran). The retry must look the label up
// first and find the key the lost request made; its secret is lost with the
// answer, so the create action has to revoke it and create again under a
// fresh label. then checks what differs per exchange (OKX refuses a
// duplicate label; the Bybit simulator saw a single create request).
func LostCreateAnswer(t *testing.T, d Dialect, then func(t *testing.T, f *Fixture, req exchange.CreateKeyRequest)) {
	f := New(t, d)
	c := Ctx(t)
	req := exchange.CreateKeyRequest{SubAccount: f.Sub(), Label: "rb-inc9-create_key",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{BotIP}}
	f.Sim.SetFaults(exchangesim.Faults{DropAfter: 1, PathPrefixes: []string{d.CreateKeyPath}})
	if _, err := f.Ex.CreateKey(c, req); exchange.KindOf(err) != exchange.KindNetwork {
		t.Fatalf("create with a lost answer: err = %v, want network", err)
	}
	f.Sim.SetFaults(exchangesim.Faults{})
	k, found, err := exchange.FindByLabel(c, f.Ex, req.SubAccount, req.Label)
	if err != nil || !found || !exchange.SameIPs(k.IPWhitelist, []string{BotIP}) || k.Permissions.Withdraw {
		t.Fatalf("find by label = %+v, %v, %v; want the key made by the lost request", k, found, err)
	}
	then(t, f, req)
}
