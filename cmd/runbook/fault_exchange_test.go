package main

import (
	"context"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
	"github.com/keyresponse/runbook/workflows"
)

// Given the engine, bots on the exchange simulator, 30 % of exchange calls
// failing (429 with Retry-After, 5xx, dropped connections, connections
// dropped after the exchange acted) and the SMS provider down,
// When a signed key_leaked event arrives for each of several bots,
// Then every incident completes: the leaked key is revoked and exactly one
// new key exists on each sub-account; the failed SMS pages are recorded as
// failed steps (containment goes on without them); and every retried
// exchange call shows in the incident's audit trail as a failed attempt
// followed by a retry.
func TestFault_ContainUnderExchangeFaultsAndSMSDown(t *testing.T) {
	n := scaled(3, 10)
	f := startFaultEnv(t, n)
	sim := f.env.fleet.sim
	sim.SetFaults(exchangesim.Faults{RateLimit: 0.08, ServerError: 0.08, Drop: 0.07, DropAfter: 0.07,
		RetryAfter: time.Second, Seed: 30, Exchanges: []string{benchExchange}})
	f.env.stack.sms.sim.FailNext(twiliosim.Down, 1000)

	ctx := context.Background()
	for _, b := range f.bots {
		if _, err := f.env.publishBreach(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	retriedSteps := 0
	for _, b := range f.bots {
		id := ingest.IncidentID(benchRunbook, b.ID, b.Key.ID)
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		var st workflows.IncidentState
		err := f.env.waitIncident(wctx, id)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if err := f.env.stack.client.GetWorkflow(ctx, id, "").Get(ctx, &st); err != nil {
			t.Fatal(err)
		}
		if st.Status != workflows.StatusSucceeded {
			t.Fatalf("%s ended %s: %s", id, st.Status, summary(st))
		}
		// The exchange: the leaked key revoked, exactly one new live key.
		keys := sim.Keys(benchExchange, b.Sub.ID, true)
		var live, revokedOld int
		for _, k := range keys {
			if k.ID == b.Key.ID && k.Revoked {
				revokedOld++
			}
			if !k.Revoked {
				live++
			}
		}
		if revokedOld != 1 || live != 1 {
			t.Errorf("%s: keys on the sub-account: old revoked %d (want 1), live %d (want 1): %+v", b.ID, revokedOld, live, keys)
		}
		// SMS down: recorded as failed, containment went on.
		if s := stepByID(st, "page_oncall"); s.Status != workflows.StatusFailed {
			t.Errorf("%s: page_oncall %s, want failed while Twilio is down", b.ID, s.Status)
		}
		// The audit trail shows the faults.
		recs := f.auditOf(t, id)
		failedAttempts := map[string]bool{}
		for _, r := range recs {
			if r.Kind == audit.StepFailed && r.Attr("final") != "true" {
				failedAttempts[r.Step] = true
			}
		}
		for _, r := range recs {
			if r.Kind == audit.StepRetried && failedAttempts[r.Step] {
				retriedSteps++
			}
		}
		var smsFailed bool
		for _, r := range recs {
			if r.Kind == audit.StepFailed && r.Step == "page_oncall" {
				smsFailed = true
			}
		}
		if !smsFailed {
			t.Errorf("%s: the failed SMS page is not in the audit trail", b.ID)
		}
	}
	injected := sim.InjectedFaults()
	total := 0
	for _, v := range injected {
		total += v
	}
	if total == 0 {
		t.Fatal("no exchange fault was injected: the test proves nothing")
	}
	if retriedSteps == 0 {
		t.Errorf("exchange faults injected (%v) but no failed-then-retried attempt in any audit trail", injected)
	}
	t.Logf("injected exchange faults %v; retried attempts in audit trails: %d", injected, retriedSteps)
}
