package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
)

// benchStorm publishes total signed key_leaked events spread round-robin
// over the "storm" bots (same leaked key per bot, a fresh event id each:
// duplicates of the breach, not of the message) and waits until the
// trigger consumer has acked them all. Each one is decoded, its signature
// and time window checked, its id claimed in the replay KV, matched, and
// handed to Temporal (SignalWithStart): exactly one incident per bot must
// start, the rest are evidence or arrive after the incident closed.
func benchStorm(ctx context.Context, e *benchEnv, total int) ([]benchRow, error) {
	bots := e.groups["storm"]
	if len(bots) == 0 {
		return nil, fmt.Errorf("no storm bots")
	}
	cons := e.stack.events.consumer
	before := cons.Stats()
	// Sign first: the storm's source does that work, not the engine.
	msgs := make([]*nats.Msg, total)
	now := time.Now()
	for i := range msgs {
		b := bots[i%len(bots)]
		ev, err := breach.Sign(breach.New("runbook-bench", "key_leaked", breach.Data{Bot: b.ID, Exchange: benchExchange,
			KeyID: b.Key.ID, Severity: breach.Severity("high"), Source: "bench-storm", Evidence: map[string]any{"n": i}}, now), e.stack.keyring, "dev")
		if err != nil {
			return nil, err
		}
		if msgs[i], err = breachMsg(ev); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	if err := publishAll(e.stack.events.js, msgs, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("storm: %w", err)
	}
	pubDur := time.Since(t0)
	done := func(s ingest.Stats) uint64 {
		return (s.Acked - before.Acked)
	}
	var last ingest.Stats
	lastProgress, lastDone := time.Now(), uint64(0)
	for {
		last = cons.Stats()
		d := done(last)
		if d >= uint64(total) {
			break
		}
		if d != lastDone {
			lastProgress, lastDone = time.Now(), d
		}
		if time.Since(lastProgress) > 2*time.Minute {
			return nil, fmt.Errorf("storm: consumer stalled at %d/%d acked", d, total)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	ingestDur := time.Since(t0)
	// Incidents are counted in Temporal, not in the consumer: the first
	// batch holds all the bots, so the consumer hands them to one fleet
	// incident, whose start_many starts the per-bot incidents.
	incidents, err := e.countExecutions(ctx, bots)
	if err != nil {
		return nil, err
	}
	verdict := "OK"
	if incidents != len(bots) {
		verdict = fmt.Sprintf("WRONG: want %d", len(bots))
	}
	return []benchRow{
		{what: fmt.Sprintf("storm: %d events over %d bots → incidents", total, len(bots)), how: "Temporal: executions of each bot's incident id", n: total,
			extra: fmt.Sprintf("%d incidents (%s); consumer: %d fleet incident(s) for %d bots, %d per-bot starts, %d signalled as evidence, %d after close, %d dead-lettered, %d redelivered",
				incidents, verdict, last.FleetStarted-before.FleetStarted, last.FleetBots-before.FleetBots, last.Started-before.Started,
				last.Signalled-before.Signalled, last.Closed-before.Closed, last.DeadLetteredTotal()-before.DeadLetteredTotal(), last.Retried-before.Retried)},
		{what: "storm: ingest rate (signatures on)", how: "first publish → last event acked by the trigger consumer (verify, replay KV, match, start or signal)", n: total,
			extra: fmt.Sprintf("%.0f events/s (publish alone %.0f events/s); %d batches, %d Temporal calls",
				float64(total)/ingestDur.Seconds(), float64(total)/pubDur.Seconds(), last.Batches-before.Batches, last.StarterCalls-before.StarterCalls)},
	}, nil
}

// countExecutions counts the workflow executions of every bot's incident id
// (waiting up to 30 s for incidents a fleet incident is still starting); a
// bot with two executions counts twice.
func (e *benchEnv) countExecutions(ctx context.Context, bots []*fleetBot) (int, error) {
	total := 0
	for _, b := range bots {
		id := ingest.IncidentID(benchRunbook, b.ID, b.Key.ID)
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := e.stack.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: e.stack.temporal.Namespace(), Query: fmt.Sprintf("WorkflowId = %q", id)})
			if err != nil {
				return 0, err
			}
			if n := len(resp.Executions); n > 0 || time.Now().After(deadline) {
				total += n
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return total, nil
}
