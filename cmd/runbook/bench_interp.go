package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/ingest/temporalstart"
	"github.com/keyresponse/runbook/workflows"
)

// benchInterp runs contain-key-breach n times through the interpreter
// (audit facts on, as the trigger consumer starts it, and off) and n times
// as the hand-written benchGoContain, each on its own bot, one at a time,
// started directly with ExecuteWorkflow; measured: start → result.
func benchInterp(ctx context.Context, e *benchEnv, n int) ([]benchRow, error) {
	lr, err := e.book()
	if err != nil {
		return nil, err
	}
	actions, err := temporalstart.ResolveActions(lr.Runbook, catalog())
	if err != nil {
		return nil, err
	}
	dsl := e.groups["interp-dsl"]
	gob := e.groups["interp-go"]
	n = min(n, len(dsl), len(gob))
	half := n / 2
	tq := e.stack.opts.taskQueue
	runDSL := func(b *fleetBot, audit bool) (time.Duration, error) {
		id := "bench-dsl:" + b.ID
		in := workflows.IncidentInput{IncidentID: id, Runbook: lr.Runbook, RunbookHash: lr.Hash, Actions: actions,
			Inputs:  map[string]any{"bot": b.ID, "key_id": b.Key.ID, "severity": "high", "host_suspect": false, "force_exit": false},
			Trigger: "manual", StartedBy: "runbook-bench", Audit: audit}
		if err := e.stack.authz.signStartAsDevOperator(&in); err != nil {
			return 0, err
		}
		t0 := time.Now()
		run, err := e.stack.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq}, workflows.IncidentWorkflowName, in)
		if err != nil {
			return 0, err
		}
		var st workflows.IncidentState
		if err := run.Get(ctx, &st); err != nil {
			return 0, fmt.Errorf("%s: %w", id, err)
		}
		if st.Status != workflows.StatusSucceeded {
			return 0, fmt.Errorf("%s ended %s: %s", id, st.Status, st.Error)
		}
		return e.closedAfter(ctx, id, t0)
	}
	runGo := func(b *fleetBot) (time.Duration, error) {
		id := "bench-go:" + b.ID
		t0 := time.Now()
		run, err := e.stack.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq}, benchGoWorkflow,
			goContainInput{IncidentID: id, Bot: b.ID, KeyID: b.Key.ID, Severity: "high"})
		if err != nil {
			return 0, err
		}
		if err := run.Get(ctx, nil); err != nil {
			return 0, fmt.Errorf("%s: %w", id, err)
		}
		return e.closedAfter(ctx, id, t0)
	}
	var withAudit, noAudit, hand []time.Duration
	// Interleaved, so a slow phase of the machine hits all variants alike.
	for i := 0; i < n; i++ {
		d, err := runDSL(dsl[i], i < half)
		if err != nil {
			return nil, err
		}
		if i < half {
			withAudit = append(withAudit, d)
		} else {
			noAudit = append(noAudit, d)
		}
		g, err := runGo(gob[i])
		if err != nil {
			return nil, err
		}
		hand = append(hand, g)
	}
	ratio := func(a []time.Duration) string {
		if p := pct(hand, 50); p > 0 && len(a) > 0 {
			return fmt.Sprintf("%.2f× the hand-written p50", float64(pct(a, 50))/float64(p))
		}
		return ""
	}
	return []benchRow{
		{what: "interp: contain-key-breach via the DSL (audit facts on)", how: "ExecuteWorkflow → workflow closed (server close time), one at a time", n: len(withAudit), samples: withAudit, extra: ratio(withAudit)},
		{what: "interp: contain-key-breach via the DSL (audit facts off)", how: "same, IncidentInput.Audit=false", n: len(noAudit), samples: noAudit, extra: ratio(noAudit)},
		{what: "interp: the same steps as a hand-written Go workflow", how: "same activities, params, timeouts and retries; no expressions, state, audit facts", n: len(hand), samples: hand},
	}, nil
}

// book returns the loaded contain-key-breach.
func (e *benchEnv) book() (ingest.LoadedRunbook, error) {
	for _, b := range e.stack.opts.books() {
		if b.Runbook.Name == benchRunbook {
			return b, nil
		}
	}
	return ingest.LoadedRunbook{}, fmt.Errorf("%s not loaded", benchRunbook)
}
