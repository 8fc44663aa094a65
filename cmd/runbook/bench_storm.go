package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
		body, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		m := nats.NewMsg(ev.NATSSubject())
		m.Data = body
		m.Header.Set("Content-Type", ingest.ContentType)
		m.Header.Set(jetstream.MsgIDHeader, ev.ID)
		msgs[i] = m
	}
	js := e.stack.events.js
	t0 := time.Now()
	for _, m := range msgs {
		if _, err := js.PublishMsgAsync(m); err != nil {
			return nil, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		return nil, fmt.Errorf("storm: publishes not acknowledged within 5 minutes")
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
	started := last.Started - before.Started
	verdict := "OK"
	if started != uint64(len(bots)) {
		verdict = fmt.Sprintf("WRONG: want %d", len(bots))
	}
	return []benchRow{
		{what: fmt.Sprintf("storm: %d events over %d bots → incidents", total, len(bots)), how: "trigger consumer stats: incidents started", n: total,
			extra: fmt.Sprintf("%d incidents (%s); %d signalled as evidence, %d after close, %d dead-lettered, %d redelivered",
				started, verdict, last.Signalled-before.Signalled, last.Closed-before.Closed, last.DeadLetteredTotal()-before.DeadLetteredTotal(), last.Retried-before.Retried)},
		{what: "storm: ingest rate (signatures on)", how: "first publish → last event acked by the trigger consumer (verify, replay KV, match, start or signal)", n: total,
			extra: fmt.Sprintf("%.0f events/s (publish alone %.0f events/s)", float64(total)/ingestDur.Seconds(), float64(total)/pubDur.Seconds())},
	}, nil
}
