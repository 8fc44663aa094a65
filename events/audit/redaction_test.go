package audit

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/events/audit/redact"
	"github.com/keyresponse/runbook/runbooks"
)

// The canary looks like a real exchange API secret (64 random characters).
const canary = "Q7vKz2mX9pL4sT8wR1nB6yH3jF5dC0aE2gU7iO9kM4qW8eZ1xV6bN3rT5yP0lS2h"

// A secret the process knows (a loaded management credential) that has no
// recognisable shape.
const knownCanary = "correct-horse-battery"

func TestPlantedSecretsNeverReachTheStream(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	red := redact.New()
	red.AddSecret(knownCanary)
	store := NewStore(js, WithKeys(testKeys), WithRedactor(red))

	// Facts written directly, with the secret under a secret-looking key,
	// inside free text, and as the actor.
	mustAppend(t, store, Opened(incident, OpenedFacts{Runbook: "contain-key-breach", Trigger: "manual", StartedBy: "alice " + knownCanary}))
	rec := StepFact(incident, "revoke", StepFailed, 1, false, map[string]string{
		"action":     "exchange.revoke_key",
		"api_secret": canary,
		"error":      "binance rejected secret=" + canary + " and " + canary,
		"note":       "management key " + knownCanary,
	})
	mustAppend(t, store, rec)

	// And through the hook: an action that (wrongly) returns the secret in
	// its outputs and summary, and one whose error message carries it.
	leaky := []activities.Action{
		fakeAction{"exchange.create_key", func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
			return runbooks.ActionResult{Summary: "created key with secret " + canary,
				Outputs: map[string]any{"key_id": "new-key-1", "secret": canary, "nested": map[string]any{"api_secret": canary}}}, nil
		}},
		fakeAction{"bot.deliver_key", func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrAuthentication, errors.New("bot refused key "+canary))
		}},
	}
	reg, err := activities.NewRegistry(leaky...)
	if err != nil {
		t.Fatal(err)
	}
	reg.AddHook(NewHook(store))
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	env := ts.NewTestActivityEnvironment()
	reg.RegisterWith(env)
	_, _ = env.ExecuteActivity("exchange.create_key", runbooks.ActionRequest{IncidentID: incident, StepID: "create", Action: "exchange.create_key"})
	_, _ = env.ExecuteActivity("bot.deliver_key", runbooks.ActionRequest{IncidentID: incident, StepID: "deliver", Action: "bot.deliver_key"})

	raw := rawStream(t, js)
	for _, secret := range []string{canary, knownCanary} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("secret %q reached the AUDIT stream", secret)
		}
	}
	recs := mustLoad(t, js, incident)
	if err := Verify(recs); err != nil {
		t.Fatal(err)
	}
	// The records still say what happened.
	var kinds []Kind
	for _, r := range recs {
		kinds = append(kinds, r.Kind)
	}
	want := []Kind{IncidentOpened, StepFailed, StepStarted, StepSucceeded, KeyChanged, StepStarted, StepFailed}
	if len(kinds) != len(want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}
	if got := recs[1].Attr("error"); got != "binance rejected secret=[REDACTED] and [REDACTED]" {
		t.Fatalf("error attr = %q", got)
	}
	if got := recs[0].Actor; got != "alice [REDACTED]" {
		t.Fatalf("actor = %q", got)
	}
	if got := recs[6].Attr("error_type"); got != activities.ErrAuthentication {
		t.Fatalf("error_type = %q", got)
	}
}
