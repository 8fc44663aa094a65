package main

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/secrets"
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
	g := &globals{}
	all, err := g.triggerBooks()
	if err != nil {
		t.Fatal(err)
	}
	var books []ingest.LoadedRunbook
	for _, b := range all() {
		if b.Runbook.Name == benchRunbook {
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
		home: t.TempDir(), taskQueue: "runbook", console: os.Stderr, identity: "fault",
		books:           func() []ingest.LoadedRunbook { return books },
		exchangeSimPort: 0, demoBotPort: -1, httpPort: -1,
		seedBots: func(ctx context.Context, ex *devExchange, store secrets.Store) (botSetup, error) {
			b, setup, err := fl.seed(ctx, ex, store, "fault", bots)
			e.groups["fault"] = b
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
	return &faultEnv{env: e, bots: e.groups["fault"]}
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
