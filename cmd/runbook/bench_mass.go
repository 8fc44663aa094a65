package main

import (
	"context"
	"fmt"
	"time"
)

// benchMass leaks every bot of the "mass" group at once: one signed
// key_leaked event per bot, published back to back, then waits until every
// bot confirmed its freeze and received its new key. This is the
// one-workflow-per-bot path: each event starts its own contain-key-breach.
func benchMass(ctx context.Context, e *benchEnv, timeout time.Duration) ([]benchRow, error) {
	bots := e.groups["mass"]
	t0 := time.Now()
	for _, b := range bots {
		if _, err := e.publishBreach(ctx, b); err != nil {
			return nil, err
		}
	}
	published := time.Since(t0)
	deadline := time.After(timeout)
	var allFrozen, allKeyed time.Duration
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var frozen, keyed []time.Duration
	timedOut := false
	for allKeyed == 0 && !timedOut {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline:
			timedOut = true
		case <-tick.C:
		}
		frozen, keyed = frozen[:0], keyed[:0]
		for _, b := range bots {
			f, d := b.State.times()
			if !f.IsZero() {
				frozen = append(frozen, f.Sub(t0))
			}
			if !d.IsZero() {
				keyed = append(keyed, d.Sub(t0))
			}
		}
		if allFrozen == 0 && len(frozen) == len(bots) {
			allFrozen = maxDur(frozen)
		}
		if len(keyed) == len(bots) {
			allKeyed = maxDur(keyed)
		}
	}
	status := func(all time.Duration, got int) string {
		if all == 0 {
			return fmt.Sprintf("only %d of %d within %s", got, len(bots), timeout)
		}
		return fmt.Sprintf("all %d after %s", len(bots), fmtDur(all))
	}
	return []benchRow{
		{what: fmt.Sprintf("mass: %d bots leaked at once → frozen", len(bots)), how: "one event per bot (published in " + fmtDur(published) + "); bot confirms freeze − first publish",
			n: len(frozen), samples: append([]time.Duration(nil), frozen...), extra: status(allFrozen, len(frozen))},
		{what: fmt.Sprintf("mass: %d bots leaked at once → re-keyed", len(bots)), how: "bot received its new key − first publish (one workflow per bot)",
			n: len(keyed), samples: append([]time.Duration(nil), keyed...), extra: status(allKeyed, len(keyed))},
	}, nil
}

func maxDur(d []time.Duration) time.Duration {
	var m time.Duration
	for _, v := range d {
		m = max(m, v)
	}
	return m
}
