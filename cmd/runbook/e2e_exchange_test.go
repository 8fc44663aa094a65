package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	exact "github.com/keyresponse/runbook/activities/exchange"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/workflows"
)

// Given the dev stack, an exchange simulator answering 30 % of calls with
// 429 or 5xx, and an attacker trading with the demo bot's leaked key from
// 127.0.0.66,
// When on-call runs the exchange containment runbook through the CLI,
// Then the attacker is refused with the old key and, from its IP, with the
// new one; the bot works with the new key from 127.0.0.10; the simulator's
// call log shows exactly one key created; and no secret is in the workflow
// history, the step outputs or the CLI output.
func TestE2E_LeakedKeyContainedUnderFaults(t *testing.T) {
	for _, exchange := range []string{"binance", "okx", "bybit"} {
		t.Run(exchange, func(t *testing.T) { leakedKeyScenario(t, exchange) })
	}
}

func leakedKeyScenario(t *testing.T, exchange string) {
	stack, c := startDemoStack(t)
	sim := stack.exchange.sim
	demo, _ := stack.exchange.demo.Find(exchange)
	leaked := demo.Bot
	sub := subAccountRef(exchange, demo.Sub)
	botRef := exact.DefaultSecretName(exchange, sub) + "@1"

	// Given: the attacker trades with the leaked key.
	adapter, err := xchg.Open(xchg.Config{Exchange: exchange, BaseURL: demo.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	trader := func(k exchangesim.Key, ip string) xchg.Trader {
		return adapter.(xchg.TraderProvider).Trader(xchg.Credential{APIKey: k.ID, Secret: k.Secret, Passphrase: k.Passphrase}, ip)
	}
	attacker := trader(leaked, "127.0.0.66")
	if _, err := attacker.PlaceOrder(context.Background(), "BTC/USDT", "buy", 0.001, 1000); err != nil {
		t.Fatalf("before containment the attacker should trade: %v", err)
	}
	sim.SetFaults(exchangesim.Faults{RateLimit: 0.15, ServerError: 0.15, Seed: 7, Exchanges: []string{exchange}})

	// When
	r := c.run("exec", filepath.Join("testdata", "e2e-exchange-contain.yaml"), "--wait", "--output", "json",
		"--input", "exchange="+exchange, "--input", "sub_account="+sub, "--input", "key_id="+leaked.ID,
		"--input", "credential_ref="+botRef, "--input", "bot_ips=127.0.0.10", "--id", "contain-"+exchange)
	sim.SetFaults(exchangesim.Faults{})
	if r.code != 0 {
		t.Fatalf("exec: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Then: attacker refused with the old key.
	if _, err := attacker.PlaceOrder(context.Background(), "BTC/USDT", "buy", 0.001, 1000); err == nil {
		t.Error("attacker still trades with the leaked key")
	}
	// Exactly one key was created.
	creates := sim.Calls(exchangesim.CallFilter{Exchange: exchange, Op: "create_key", OnlyOK: true})
	if len(creates) != 1 {
		t.Errorf("%d keys created (call log), want exactly 1", len(creates))
	}
	var live []exchangesim.Key
	for _, k := range sim.Keys(exchange, demo.Sub.ID, false) {
		if !k.Revoked {
			live = append(live, k)
		}
	}
	if len(live) != 1 || live[0].Perms.Withdraw || len(live[0].IPs) != 1 || live[0].IPs[0] != "127.0.0.10" {
		t.Fatalf("live keys on the bot's sub-account: %d (first: %+v), want one trade-only key whitelisted to 127.0.0.10\n%s", len(live), live[0].Public(), r.stdout)
	}
	newKey, _ := sim.Key(exchange, live[0].ID)
	if _, err := trader(newKey, "127.0.0.66").PlaceOrder(context.Background(), "BTC/USDT", "buy", 0.001, 1000); err == nil {
		t.Error("the attacker's IP can use the new key")
	}
	bot := trader(newKey, "127.0.0.10")
	if _, err := bot.PlaceOrder(context.Background(), "BTC/USDT", "buy", 0.001, 1000); err != nil {
		t.Errorf("the bot cannot trade with its new key from its IP: %v", err)
	}
	if _, err := bot.Withdraw(context.Background(), "USDT", 10, "0xattacker"); err == nil {
		t.Error("the new key can withdraw")
	}

	// No secret anywhere outside the secret store.
	hist := string(historyBytes(t, fetchHistory(t, stack, "contain-"+exchange)))
	for _, secret := range []string{leaked.Secret, newKey.Secret} {
		for where, text := range map[string]string{"workflow history": hist, "CLI stdout": r.stdout, "CLI stderr": r.stderr} {
			if strings.Contains(text, secret) {
				t.Errorf("a key secret appears in the %s", where)
			}
		}
	}
	var st workflows.IncidentState
	mustUnmarshal(t, r.stdout, &st)
	if got := stepByID(st, "verify").Status; got != workflows.StatusSucceeded {
		t.Errorf("verify step %s: %s", got, stepByID(st, "verify").Error)
	}
}
