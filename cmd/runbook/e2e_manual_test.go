package main

import (
	"strings"
	"testing"

	"github.com/keyresponse/runbook/workflows"
)

// Given the demo bot whose key the exchange's API cannot revoke (treated as
// a main-account key),
// When on-call runs contain-key-breach-manual and approves the web-UI step
// without having deleted the key,
// Then the engine does not pretend: verification finds the key alive and
// the incident fails; and once the key is really deleted (here through the
// simulator, as a person in the web UI would), a second run verifies it dead
// and succeeds, with the bot still frozen.
func TestE2E_ManualFallbackVerifiesTheKeyIsDead(t *testing.T) {
	// The operator `runbook dev` provisions is named after $USER.
	t.Setenv("USER", "erin")
	stack, c := startDemoStack(t)
	acct, _ := stack.exchange.demo.Find("binance")
	const id = "contain-key-breach-manual:bot-1"
	atGate := func(st workflows.IncidentState) bool {
		return stepByID(st, "delete_in_web_ui").Status == workflows.StatusWaiting
	}

	// When: approved, but nobody deleted the key.
	if r := c.run("exec", "contain-key-breach-manual", "--input", "bot=bot-1"); r.code != 0 {
		t.Fatalf("exec: %s", r.stderr)
	}
	c.waitFor(id, "the web-UI gate", atGate)
	if r := c.run("approve", id); r.code != 0 {
		t.Fatalf("approve: %s", r.stderr)
	}
	st := c.waitFor(id, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
	if st.Status != workflows.StatusFailed || stepByID(st, "verify_dead").Status != workflows.StatusFailed {
		t.Fatalf("a key that still works was accepted as dead: %s", summary(st))
	}
	if !strings.Contains(strings.ToLower(stepByID(st, "verify_dead").Error), "old") {
		t.Errorf("verify_dead error does not say the old key still works: %s", stepByID(st, "verify_dead").Error)
	}

	// When: the key is deleted in the "web UI", then a new run is approved.
	if err := stack.exchange.sim.RevokeKey("binance", acct.Bot.ID); err != nil {
		t.Fatal(err)
	}
	if r := c.run("exec", "contain-key-breach-manual", "--input", "bot=bot-1"); r.code != 0 {
		t.Fatalf("exec again: %s", r.stderr)
	}
	c.waitFor(id, "the web-UI gate again", atGate)
	if r := c.run("approve", id); r.code != 0 {
		t.Fatalf("approve: %s", r.stderr)
	}
	st = c.waitFor(id, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })

	// Then
	if st.Status != workflows.StatusSucceeded {
		t.Fatalf("incident ended %s: %s", st.Status, summary(st))
	}
	if got := stack.demoBot.sim.State(); got != "stopped" {
		t.Errorf("bot state %q: it must stay frozen until it has a new key", got)
	}
}
