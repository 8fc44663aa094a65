package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
)

// benchFleetRunbook contains many bots of one exchange account at once.
const benchFleetRunbook = "contain-fleet-breach"

// benchAccounts puts the two mass-breach fleets on exchange accounts of
// their own (aliases of the simulator's Binance account): an account-wide
// breach of one must not touch any other bot of the run.
var benchAccounts = map[string]string{"mass": "binance-mass", "fleet": "binance-fleet"}

// benchMass leaks every bot of the "mass" group at once: one signed
// key_leaked event per bot, published back to back as a monitor that sees
// the whole fleet go would, then waits until every bot confirmed its
// freeze and received its new key. The trigger consumer hands each fetched
// batch of new incidents on one exchange to contain-fleet-breach (the
// key_leaked trigger's fleet route), which freezes and locks out the batch
// together and then starts the per-bot incidents that re-key.
func benchMass(ctx context.Context, e *benchEnv, timeout time.Duration) ([]benchRow, error) {
	bots := e.groups["mass"]
	account := benchAccounts["mass"]
	before := e.stack.events.consumer.Stats()
	msgs := make([]*nats.Msg, 0, len(bots))
	for _, b := range bots {
		ev, err := breach.Sign(breach.New("runbook-bench", "key_leaked", breach.Data{Bot: b.ID, Exchange: account,
			KeyID: b.Key.ID, Severity: breach.Severity("high"), Source: "bench-mass", Evidence: map[string]any{}}, time.Now()), e.stack.keyring, "dev")
		if err != nil {
			return nil, err
		}
		m, err := breachMsg(ev)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	t0 := time.Now()
	if err := publishAll(e.stack.events.js, msgs, time.Minute); err != nil {
		return nil, fmt.Errorf("mass: %w", err)
	}
	published := time.Since(t0)
	frozen, keyed, allFrozen, allKeyed := waitFleet(ctx, bots, t0, timeout)
	after := e.stack.events.consumer.Stats()
	route := fmt.Sprintf("%d fleet incidents for %d bots, %d per-bot starts by the consumer",
		after.FleetStarted-before.FleetStarted, after.FleetBots-before.FleetBots, after.Started-before.Started)
	return []benchRow{
		{what: fmt.Sprintf("mass: %d bots leaked at once → frozen", len(bots)), how: "one event per bot (published in " + fmtDur(published) + "); bot confirms freeze − first publish",
			n: len(frozen), samples: frozen, extra: fleetStatus(allFrozen, len(frozen), len(bots), timeout) + "; " + route},
		{what: fmt.Sprintf("mass: %d bots leaked at once → re-keyed", len(bots)), how: "bot received its new key − first publish (per-bot incidents started by the fleet)",
			n: len(keyed), samples: keyed, extra: fleetStatus(allKeyed, len(keyed), len(bots), timeout)},
	}, nil
}

// benchMassAccount breaches the "fleet" group's exchange account itself: one
// signed account_leaked event, no bot named; contain-fleet-breach selects
// every bot on the account.
func benchMassAccount(ctx context.Context, e *benchEnv, timeout time.Duration) ([]benchRow, error) {
	bots := e.groups["fleet"]
	account := benchAccounts["fleet"]
	ev, err := breach.Sign(breach.New("runbook-bench", breach.KindAccountLeaked, breach.Data{Exchange: account,
		Severity: breach.Severity("high"), Source: "bench-account", Evidence: map[string]any{}}, time.Now()), e.stack.keyring, "dev")
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if _, err := ingest.Publish(ctx, e.stack.events.js, ev); err != nil {
		return nil, err
	}
	frozen, keyed, allFrozen, allKeyed := waitFleet(ctx, bots, t0, timeout)
	return []benchRow{
		{what: fmt.Sprintf("mass: account-wide leak, %d bots → frozen", len(bots)), how: "one account_leaked event; bot confirms freeze − publish",
			n: len(frozen), samples: frozen, extra: fleetStatus(allFrozen, len(frozen), len(bots), timeout)},
		{what: fmt.Sprintf("mass: account-wide leak, %d bots → re-keyed", len(bots)), how: "bot received its new key − publish",
			n: len(keyed), samples: keyed, extra: fleetStatus(allKeyed, len(keyed), len(bots), timeout)},
	}, nil
}

// waitFleet polls the bots' own clocks until every bot has its new key or
// timeout passes; it returns each bot's time to frozen and to re-keyed
// after t0, and the time when the last one got there (0: not all did).
func waitFleet(ctx context.Context, bots []*fleetBot, t0 time.Time, timeout time.Duration) (frozen, keyed []time.Duration, allFrozen, allKeyed time.Duration) {
	deadline := time.After(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
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
			return frozen, keyed, allFrozen, allKeyed
		}
		select {
		case <-ctx.Done():
			return frozen, keyed, allFrozen, 0
		case <-deadline:
			return frozen, keyed, allFrozen, 0
		case <-tick.C:
		}
	}
}

func fleetStatus(all time.Duration, got, total int, timeout time.Duration) string {
	if all == 0 {
		return fmt.Sprintf("only %d of %d within %s", got, total, timeout)
	}
	return fmt.Sprintf("all %d after %s", total, fmtDur(all))
}

// breachMsg is the JetStream message ingest.Publish would send for ev.
func breachMsg(ev breach.Event) (*nats.Msg, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(ev.NATSSubject())
	m.Data = body
	m.Header.Set("Content-Type", ingest.ContentType)
	m.Header.Set(jetstream.MsgIDHeader, ev.ID)
	return m, nil
}

func maxDur(d []time.Duration) time.Duration {
	var m time.Duration
	for _, v := range d {
		m = max(m, v)
	}
	return m
}

// publishAll publishes msgs asynchronously, as a monitor firing a burst
// would, and waits until JetStream acknowledged every one. When too many
// are unacknowledged the client refuses more (a stall): then it waits for
// the outstanding ones and goes on.
func publishAll(js jetstream.JetStream, msgs []*nats.Msg, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for i := 0; i < len(msgs); {
		_, err := js.PublishMsgAsync(msgs[i])
		switch {
		case err == nil:
			i++
		case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Until(deadline)):
				return fmt.Errorf("publishes not acknowledged within %s", timeout)
			}
		default:
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-time.After(time.Until(deadline)):
		return fmt.Errorf("publishes not acknowledged within %s", timeout)
	}
}
