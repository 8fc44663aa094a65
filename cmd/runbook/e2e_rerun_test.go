package main

import (
	"testing"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// Given the demo bot,
// When on-call runs contain-key-breach for it by hand twice (the same
// incident id, one run after the other),
// Then each run re-keys the bot: after each there is exactly one live key,
// the bot trades with it, and the second run's key is a new one (a label
// reused across runs would make the second run "find" the first run's key —
// by then the bot's current key — and revoke it).
func TestE2E_SecondContainmentRekeysAgain(t *testing.T) {
	stack, c := startDemoStack(t)
	acct, _ := stack.exchange.demo.Find("binance")
	liveKey := func() string {
		var live []exchangesim.Key
		for _, k := range stack.exchange.sim.Keys("binance", acct.Sub.ID, false) {
			if !k.Revoked {
				live = append(live, k)
			}
		}
		if len(live) != 1 {
			t.Fatalf("%d live keys on the bot's sub-account, want 1", len(live))
		}
		return live[0].ID
	}
	var keys []string
	for run := 1; run <= 2; run++ {
		r := c.run("exec", "contain-key-breach", "--input", "bot=bot-1", "--wait", "-o", "json")
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s", run, r.code, r.stderr)
		}
		k := liveKey()
		if got := stack.demoBot.sim.LoadedAPIKey(); got != k {
			t.Errorf("run %d: bot has key %s, live key is %s", run, got, k)
		}
		keys = append(keys, k)
	}
	if keys[0] == keys[1] || keys[0] == acct.Bot.ID {
		t.Errorf("keys after each run %v (first %s): each run must create a new one", keys, acct.Bot.ID)
	}
}
