package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/workflows"
)

// fleetEnv is the in-process engine with both breach runbooks and one
// fleet of bots on an exchange account of its own.
type fleetEnv struct {
	env     *benchEnv
	bots    []*fleetBot
	account string
}

func startFleetEnv(t *testing.T, n int, account string) *fleetEnv {
	t.Helper()
	e := startSeededEnv(t, "fleet", n, account, []string{benchRunbook, benchFleetRunbook}, nil)
	return &fleetEnv{env: e, bots: e.groups["fleet"], account: account}
}

// thenEveryBotIsReKeyed checks each bot's own incident: it succeeded under
// the fleet (input fleet set), the bot was frozen and got a new key, its
// sub-account has exactly one live key and the leaked one is revoked.
func (f *fleetEnv) thenEveryBotIsReKeyed(t *testing.T) {
	t.Helper()
	for _, b := range f.bots {
		id := ingest.IncidentID(benchRunbook, b.ID, b.Key.ID)
		st := f.env.endState(t, id)
		if st.Status != workflows.StatusSucceeded {
			t.Errorf("%s: %s", id, summary(st))
			continue
		}
		if s := stepByID(st, "page_oncall"); s.Status != workflows.StatusSkipped {
			t.Errorf("%s: per-bot page %s, want skipped (the fleet texts once)", id, s.Status)
		}
		frozen, delivered := b.State.times()
		if frozen.IsZero() || delivered.IsZero() {
			t.Errorf("%s: frozen %v, new key delivered %v", b.ID, frozen, delivered)
		}
		checkOneLiveKey(t, f.env.fleet.sim, b)
	}
}

// fleetTexts are the texts that name the fleet's account.
func (f *fleetEnv) fleetTexts() []string {
	var out []string
	for _, m := range f.env.stack.sms.sim.Messages() {
		if strings.Contains(m.Body, f.account) {
			out = append(out, m.Body)
		}
	}
	return out
}

// Given 25 bots on one exchange account, each with a sloppy leaked key,
// When one signed account_leaked event names the account (no bot),
// Then one contain-fleet-breach incident locks every key and freezes every
// bot, texts on-call once (plus its summary), and starts each bot's
// contain-key-breach, which re-keys it without texting on its own.
func TestE2E_AccountWideLeakContainsTheFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded engine")
	}
	f := startFleetEnv(t, 25, "binance-acct")
	ctx := context.Background()
	ev, err := breach.Sign(breach.New("e2e", breach.KindAccountLeaked, breach.Data{Exchange: f.account,
		Severity: breach.Severity("high"), Source: "e2e", Evidence: map[string]any{}}, time.Now()), f.env.stack.keyring, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Publish(ctx, f.env.stack.events.js, ev); err != nil {
		t.Fatal(err)
	}
	fleetID := ingest.IncidentID(benchFleetRunbook, f.account, "")
	st := f.env.endState(t, fleetID)
	if st.Status != workflows.StatusSucceeded {
		t.Fatalf("fleet incident: %s", summary(st))
	}
	for _, step := range []string{"select", "lockout_all", "freeze_all", "remediate"} {
		if s := stepByID(st, step); s.Status != workflows.StatusSucceeded {
			t.Errorf("fleet step %s: %s %s", step, s.Status, s.Error)
		}
	}
	if got := fmt.Sprint(stepByID(st, "select").Outputs["count"]); got != "25" {
		t.Errorf("fleet selected %s bots, want 25", got)
	}
	f.thenEveryBotIsReKeyed(t)
	f.thenNoSecretLeaked(t, fleetID)
	if texts := f.fleetTexts(); len(texts) != 2 {
		t.Errorf("texts about %s: %d, want 2 (the fleet's page and summary): %q", f.account, len(texts), texts)
	}
}

// Given 25 bots on one exchange account,
// When a monitor publishes one signed key_leaked event per bot in a burst,
// Then the trigger consumer hands the batch to one contain-fleet-breach
// incident instead of 25 workflows, and every bot ends re-keyed by its own
// incident under the id its event maps to.
func TestE2E_BurstOfKeyLeaksGoesToTheFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the embedded engine")
	}
	f := startFleetEnv(t, 25, "binance-burst")
	before := f.env.stack.events.consumer.Stats()
	var msgs []*nats.Msg
	for _, b := range f.bots {
		ev, err := breach.Sign(breach.New("e2e", "key_leaked", breach.Data{Bot: b.ID, Exchange: f.account, KeyID: b.Key.ID,
			Severity: breach.Severity("high"), Source: "e2e", Evidence: map[string]any{}}, time.Now()), f.env.stack.keyring, "dev")
		if err != nil {
			t.Fatal(err)
		}
		m, err := breachMsg(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	// JetStream holds the durable trigger consumer while the burst is
	// stored, so it arrives at once whatever the machine's speed (without
	// this, a fast consumer took the events one by one as they came).
	js := f.env.stack.events.js
	ctx := context.Background()
	if _, err := js.PauseConsumer(ctx, ingest.StreamBreach, ingest.DefaultDurable, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := publishAll(js, msgs, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := js.ResumeConsumer(ctx, ingest.StreamBreach, ingest.DefaultDurable); err != nil {
		t.Fatal(err)
	}
	f.thenEveryBotIsReKeyed(t)
	after := f.env.stack.events.consumer.Stats()
	// The consumer's first batch waits for what the server holds behind its
	// first message (NumPending), so the burst is normally one batch and one
	// fleet; under heavy load its 20 ms bound may split off a few events,
	// which start on their own, while the rest (>= min_bots 20) go to a fleet.
	fleets, handed, own := after.FleetStarted-before.FleetStarted, after.FleetBots-before.FleetBots, after.Started-before.Started-(after.FleetStarted-before.FleetStarted)
	if fleets < 1 || handed < 20 {
		t.Errorf("fleet incidents %d for %d bots: the burst was not handed to the fleet runbook", fleets, handed)
	}
	if handed+own != 25 {
		t.Errorf("%d bots handed to fleets + %d incidents started by the consumer itself, want 25 in all", handed, own)
	}
	t.Logf("burst of 25: %d fleet incident(s) for %d bots, %d started on their own", fleets, handed, own)
}

// thenNoSecretLeaked checks that no bot's leaked or new secret is in any
// NATS stream (events, audit, dead letters, KV) or in the decoded state of
// the fleet incident and of each bot's incident.
func (f *fleetEnv) thenNoSecretLeaked(t *testing.T, fleetID string) {
	t.Helper()
	var secrets []string
	for _, b := range f.bots {
		for _, k := range f.env.fleet.sim.Keys(benchExchange, b.Sub.ID, true) {
			if k.Secret != "" {
				secrets = append(secrets, k.Secret)
			}
		}
	}
	if n := len(secrets); n < 2*len(f.bots) {
		t.Fatalf("%d secrets to look for, want the leaked and the new one of each of %d bots", n, len(f.bots))
	}
	places := map[string][]byte{"NATS streams": allStreamBytes(t, f.env.stack.events.js)}
	states := []string{fleetID}
	for _, b := range f.bots {
		states = append(states, ingest.IncidentID(benchRunbook, b.ID, b.Key.ID))
	}
	for _, id := range states {
		b, err := json.Marshal(f.env.endState(t, id))
		if err != nil {
			t.Fatal(err)
		}
		places["state of "+id] = b
	}
	for where, b := range places {
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Fatalf("a key secret is in the %s", where)
			}
		}
	}
}
