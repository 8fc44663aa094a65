package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/workflows"
)

// soak reports whether the long fault runs are asked for
// (RUNBOOK_FAULT_SOAK=1); CI runs the short ones.
func soak() bool { return os.Getenv("RUNBOOK_FAULT_SOAK") == "1" }

// scaled returns n, or n*factor under soak.
func scaled(n, factor int) int {
	if soak() {
		if f, err := strconv.Atoi(os.Getenv("RUNBOOK_FAULT_SOAK_FACTOR")); err == nil && f > 0 {
			return n * f
		}
		return n * factor
	}
	return n
}

// faultEnv is the in-process engine with contain-key-breach as the only
// triggered runbook and a fleet of bench bots.
type faultEnv struct {
	env  *benchEnv
	bots []*fleetBot
}

func startFaultEnv(t *testing.T, bots int) *faultEnv {
	t.Helper()
	return startFaultEnvWith(t, bots, nil)
}

// startFaultEnvWith is startFaultEnv with a chance to adjust the dev
// stack's options first.
func startFaultEnvWith(t *testing.T, bots int, adjust func(*devOptions)) *faultEnv {
	t.Helper()
	e := startSeededEnv(t, "fault", bots, benchExchange, []string{benchRunbook}, adjust)
	return &faultEnv{env: e, bots: e.groups["fault"]}
}

// startSeededEnv runs the engine in the test process with only the named
// runbooks triggering, and n bench bots named <group>-<i> on the exchange
// account (group e.groups[group]).
func startSeededEnv(t *testing.T, group string, n int, account string, runbookNames []string, adjust func(*devOptions)) *benchEnv {
	t.Helper()
	all, err := (&globals{}).triggerBooks()
	if err != nil {
		t.Fatal(err)
	}
	var books []ingest.LoadedRunbook
	for _, b := range all() {
		if slices.Contains(runbookNames, b.Runbook.Name) {
			books = append(books, b)
		}
	}
	fl, err := startFleet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fl.close)
	e := &benchEnv{fleet: fl, groups: map[string][]*fleetBot{}, hooks: newBenchHooks(), out: os.Stderr}
	o := devOptions{
		home: t.TempDir(), taskQueue: "runbook", console: os.Stderr, identity: group,
		books:           func() []ingest.LoadedRunbook { return books },
		exchangeSimPort: 0, demoBotPort: -1, httpPort: -1,
		seedBots: func(ctx context.Context, ex *devExchange, store secrets.Store) (botSetup, error) {
			b, setup, err := fl.seedOn(ctx, ex, store, group, n, account)
			e.groups[group] = b
			return setup, err
		},
		register: e.hooks.register,
	}
	if adjust != nil {
		adjust(&o)
	}
	stack, err := startDevStack(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.stop)
	e.stack = stack
	return e
}

// endState waits (up to 3 minutes) until the incident's workflow ended and
// returns its final state.
func (e *benchEnv) endState(t *testing.T, id string) workflows.IncidentState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := e.waitIncident(ctx, id); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	var st workflows.IncidentState
	if err := e.stack.client.GetWorkflow(ctx, id, "").Get(ctx, &st); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	return st
}

// auditOf waits until the incident's audit trail is closed and returns it.
func (f *faultEnv) auditOf(t *testing.T, id string) []audit.Record {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var recs []audit.Record
	for time.Now().Before(deadline) {
		recs, _ = audit.Load(context.Background(), f.env.stack.events.js, id)
		if v := audit.Project(recs); v.ClosedAt != nil {
			return recs
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("audit trail of %s never closed (%d records)", id, len(recs))
	return nil
}

// checkOneLiveKey reports, for a fleet bot, whether its sub-account ends
// with exactly one live key and the leaked key revoked.
func checkOneLiveKey(t *testing.T, sim *exchangesim.Sim, b *fleetBot) {
	t.Helper()
	live, oldRevoked := 0, false
	for _, k := range sim.Keys(benchExchange, b.Sub.ID, true) {
		if !k.Revoked {
			live++
		}
		if k.ID == b.Key.ID && k.Revoked {
			oldRevoked = true
		}
	}
	if live != 1 || !oldRevoked {
		t.Errorf("%s: %d live keys on the sub-account (want 1), leaked key revoked %v", b.ID, live, oldRevoked)
	}
}

// publishStream publishes, for each copy, one signed key_leaked event per
// bot (a fresh event id each: duplicates of the breach), pausing between
// events, and retries each publish until JetStream acknowledges it: only
// acknowledged events are promised not to be lost. It counts what was
// acknowledged in *published (under mu) and returns on done.
func publishStream(js jetstream.JetStream, kr breach.Keyring, bots []*fleetBot, copies int, pause time.Duration, mu *sync.Mutex, published *int, done chan<- error) {
	for c := range copies {
		for _, b := range bots {
			ev, err := breach.Sign(breach.New("fault-test", "key_leaked", breach.Data{Bot: b.ID, Exchange: benchExchange,
				KeyID: b.Key.ID, Severity: breach.Severity("high"), Source: "fault", Evidence: map[string]any{"copy": c}}, time.Now()), kr, "dev")
			if err != nil {
				done <- err
				return
			}
			deadline := time.Now().Add(3 * time.Minute)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := ingest.Publish(ctx, js, ev)
				cancel()
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					done <- fmt.Errorf("publish %s: %w", ev.ID, err)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			*published++
			mu.Unlock()
			time.Sleep(pause)
		}
	}
	done <- nil
}
