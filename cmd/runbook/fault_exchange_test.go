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
// dropped after the exchange acted) and 6 % more answering slower than the
// engine's request timeout, and the SMS provider down,
// When a signed key_leaked event arrives for each of several bots, and the
// SMS provider comes back once every first page has failed,
// Then every incident completes: the leaked key is revoked and exactly one
// new key exists on each sub-account; the failed SMS pages are recorded as
// failed steps with their error class (containment goes on without them)
// and the closing summary text goes out once the provider is back; and the
// incidents' audit trails show each kind of injected exchange fault as a
// failed attempt of its class followed by a retry.
func TestFault_ContainUnderExchangeFaultsAndSMSDown(t *testing.T) {
	n := scaled(3, 10)
	f := startFaultEnvWith(t, n, func(o *devOptions) { o.exchangeTimeout = 700 * time.Millisecond })
	sim := f.env.fleet.sim
	sim.SetFaults(exchangesim.Faults{RateLimit: 0.08, ServerError: 0.08, Drop: 0.07, DropAfter: 0.07,
		Slow: 0.06, SlowDelay: 1500 * time.Millisecond,
		RetryAfter: time.Second, Seed: 30, Exchanges: []string{benchExchange}})
	twilio := f.env.stack.sms.sim
	twilio.FailNext(twiliosim.Down, 1000)
	smsBefore := len(twilio.Messages())

	ctx := context.Background()
	for _, b := range f.bots {
		if _, err := f.env.publishBreach(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// Twilio comes back once every incident's first page failed for good.
	healed := make(chan struct{})
	go func() {
		defer close(healed)
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			failed := 0
			for _, b := range f.bots {
				var st workflows.IncidentState
				id := ingest.IncidentID(benchRunbook, b.ID, b.Key.ID)
				if v, err := f.env.stack.client.QueryWorkflow(ctx, id, "", workflows.QueryState); err == nil && v.Get(&st) == nil {
					if stepByID(st, "page_oncall").Status == workflows.StatusFailed {
						failed++
					}
				}
			}
			if failed == len(f.bots) {
				twilio.Recover()
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	retriedSteps := 0
	errorTypes := map[string]int{}
	for _, b := range f.bots {
		id := ingest.IncidentID(benchRunbook, b.ID, b.Key.ID)
		st := f.env.endState(t, id)
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
			if r.Kind == audit.StepFailed && r.Step != "page_oncall" && r.Step != "summary" {
				errorTypes[r.Attr("error_type")]++
			}
		}
		var smsFailed, summarySent bool
		for _, r := range recs {
			if r.Kind == audit.StepFailed && r.Step == "page_oncall" && r.Attr("error_type") != "" {
				smsFailed = true
			}
			if r.Kind == audit.NotificationSent && r.Step == "summary" {
				summarySent = true
			}
		}
		if !smsFailed {
			t.Errorf("%s: the failed SMS page (with its error class) is not in the audit trail", b.ID)
		}
		if !summarySent {
			t.Errorf("%s: the closing summary text is not in the audit trail although the SMS provider came back", b.ID)
		}
	}
	<-healed
	if sent := len(twilio.Messages()) - smsBefore; sent < len(f.bots) {
		t.Errorf("%d texts went out after the SMS provider came back, want at least one summary per incident (%d)", sent, len(f.bots))
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
	// Each kind of fault shows as the error class it maps to.
	classOf := map[exchangesim.FaultKind]string{
		"rate_limit": "RateLimited", "server_error": "ExchangeUnavailable",
		"drop": "NetworkError", "drop_after": "NetworkError", "slow": "NetworkError",
	}
	for kind, n := range injected {
		if c, ok := classOf[kind]; ok && n > 0 && errorTypes[c] == 0 {
			t.Errorf("%d %s faults injected but no failed attempt of class %s in any audit trail (classes seen: %v)", n, kind, c, errorTypes)
		}
	}
	t.Logf("injected exchange faults %v; failed attempts by class in audit trails %v; retried attempts: %d", injected, errorTypes, retriedSteps)
}
