package main

import (
	"context"
	"strings"
	"testing"

	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/botfactory"
	"github.com/keyresponse/runbook/workflows"
)

// Given the demo bot frozen (as after a false-positive breach alert),
// When on-call runs the shipped unfreeze runbook with a reason,
// Then the bot runs again, the runbook says what it found before and after,
// and on-call gets the text naming the reason.
func TestE2E_UnfreezeAfterFalsePositive(t *testing.T) {
	stack, c := startDemoStack(t)
	bots, err := botfactory.Resolver(stack.demoBot.setup.controllers, botfactory.Deps{Secrets: secretReader{stack.secrets}})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := bots("bot-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Freeze(context.Background(), ibot.FreezeOptions{}); err != nil {
		t.Fatal(err)
	}

	// When
	r := c.run("exec", "unfreeze", "--input", "bot=bot-1", "--input", "reason=alert was a false positive", "--wait", "-o", "json")

	// Then
	if r.code != 0 {
		t.Fatalf("exec unfreeze: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var st workflows.IncidentState
	mustUnmarshal(t, r.stdout, &st)
	if got := stepByID(st, "resume").Status; got != workflows.StatusSucceeded {
		t.Errorf("resume: %s", got)
	}
	if frozen := stepByID(st, "before").Outputs["frozen"]; frozen != true {
		t.Errorf("before.frozen = %v, want true", frozen)
	}
	if state := stack.demoBot.sim.State(); state != "running" {
		t.Errorf("bot state %q after unfreeze", state)
	}
	var texts []string
	for _, m := range stack.sms.sim.Messages() {
		texts = append(texts, m.Body)
	}
	if !strings.Contains(strings.Join(texts, "\n"), "false positive") {
		t.Errorf("no SMS with the reason: %v", texts)
	}
}
