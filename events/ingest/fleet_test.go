package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/runbooks"
)

func fleetRunbook() LoadedRunbook {
	return LoadedRunbook{Hash: "sha256:fleet", Runbook: runbooks.Runbook{
		Name: "contain-fleet",
		Inputs: []runbooks.Input{
			{Name: "exchange", Type: runbooks.InputString, Required: true},
			{Name: "severity", Type: runbooks.InputString, Required: true},
			{Name: "targets", Type: runbooks.InputList, Required: true},
		},
		Steps: []runbooks.Step{{ID: "freeze", Action: "bot.freeze"}},
	}}
}

// fleetBooks is the per-bot runbook routed to the fleet runbook from 3
// bots of one exchange on; withFleet false leaves the fleet runbook out.
func fleetBooks(withFleet bool) func() []LoadedRunbook {
	rb := containRunbook()
	rb.Runbook.Triggers[0].Fleet = &runbooks.FleetRoute{Runbook: "contain-fleet", MinBots: 3}
	books := []LoadedRunbook{rb}
	if withFleet {
		books = append(books, fleetRunbook())
	}
	return func() []LoadedRunbook { return books }
}

type pub struct {
	bot, exchange string
	sev           breach.Severity
}

// publishAll publishes one signed event per p and returns them.
func (e *env) publishAll(ps []pub) []breach.Event {
	e.t.Helper()
	var out []breach.Event
	for _, p := range ps {
		ev := event(p.bot, "key_leaked", p.sev, time.Now())
		ev.Data.Exchange = p.exchange
		ev = e.sign(ev)
		if _, err := Publish(context.Background(), e.js, ev); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// Given one batch with new incidents for 4 bots on binance (fleet route
// from 3 bots) and 2 on okx,
// Then binance's bots are contained by ONE fleet start carrying every
// target and event in stream order, okx's bots get per-bot starts, and a
// later event for a bot handed to the fleet takes the per-bot path.
func TestFleetRouting(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	g := e.runGated(st, func(c *Config) { c.Runbooks = fleetBooks(true) })
	evs := e.publishAll([]pub{
		{"f1", "binance", breach.SeverityHigh},
		{"o1", "okx", breach.SeverityCritical},
		{"f2", "binance", breach.SeverityHigh},
		{"f1", "binance", breach.SeverityHigh},
		{"f3", "binance", breach.SeverityCritical},
		{"o2", "okx", breach.SeverityHigh},
		{"f4", "binance", breach.SeverityHigh},
	})
	g.release(len(evs))
	waitFor(t, "batch acked", func() bool { return g.c.Stats().Acked == 1+uint64(len(evs)) })

	byID := map[string]StartRequest{}
	for _, r := range withoutGate(st.all()) {
		if _, dup := byID[r.IncidentID]; dup {
			t.Fatalf("two calls for %s in one batch", r.IncidentID)
		}
		byID[r.IncidentID] = r
	}
	fleetID := "contain-fleet:binance:" + evs[0].ID
	if len(byID) != 3 {
		t.Fatalf("calls %v: want the fleet and okx's two bots", keys(byID))
	}
	f, ok := byID[fleetID]
	if !ok {
		t.Fatalf("no fleet start %s among %v", fleetID, keys(byID))
	}
	if f.Runbook.Name != "contain-fleet" || f.RunbookHash != "sha256:fleet" || f.Exchange != "binance" || f.Event["id"] != evs[0].ID {
		t.Fatalf("fleet request %+v", f)
	}
	if f.Inputs["exchange"] != "binance" || f.Inputs["severity"] != "critical" {
		t.Fatalf("fleet inputs %v", f.Inputs)
	}
	var targets []string
	for _, tg := range f.Inputs["targets"].([]any) {
		m := tg.(map[string]any)
		targets = append(targets, fmt.Sprint(m["bot"], "/", m["key_id"], "/", m["severity"], "/", m["incident_id"]))
	}
	wantTargets := "[f1/AK-f1/high/contain-key-breach:f1 f2/AK-f2/high/contain-key-breach:f2 f3/AK-f3/critical/contain-key-breach:f3 f4/AK-f4/high/contain-key-breach:f4]"
	if fmt.Sprint(targets) != wantTargets {
		t.Fatalf("targets %v\nwant    %s", targets, wantTargets)
	}
	var got []string
	for _, ev := range f.evidence() {
		got = append(got, ev.EventID)
	}
	if want := []string{evs[0].ID, evs[2].ID, evs[3].ID, evs[4].ID, evs[6].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("fleet evidence %v, want binance's events in stream order %v", got, want)
	}
	for _, id := range []string{"contain-key-breach:o1", "contain-key-breach:o2"} {
		if r, ok := byID[id]; !ok || r.Runbook.Name != "contain-key-breach" {
			t.Fatalf("okx bot below min_bots: no per-bot start %s", id)
		}
	}
	if s := g.c.Stats(); s.FleetStarted != 1 || s.FleetBots != 4 || s.Started != 4 {
		t.Fatalf("stats %+v", s)
	}

	// A later event for a bot the fleet took over: per-bot path.
	later := e.publishAll([]pub{{"f2", "binance", breach.SeverityHigh}})
	waitFor(t, "later event acked", func() bool { return g.c.Stats().Acked == 2+uint64(len(evs)) })
	all := st.all()
	var last StartRequest
	for _, r := range all {
		if r.Evidence.EventID == later[0].ID {
			last = r
		}
	}
	if last.IncidentID != "contain-key-breach:f2" || last.Runbook.Name != "contain-key-breach" {
		t.Fatalf("later event for a handed-off bot went to %q", last.IncidentID)
	}
	if s := g.c.Stats(); s.FleetStarted != 1 {
		t.Fatalf("a second fleet start: %+v", s)
	}
}

// Without the fleet runbook loaded, a mass breach falls back to per-bot
// starts.
func TestFleetRunbookMissingFallsBack(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	g := e.runGated(st, func(c *Config) { c.Runbooks = fleetBooks(false) })
	evs := e.publishAll([]pub{{"f1", "binance", breach.SeverityHigh}, {"f2", "binance", breach.SeverityHigh}, {"f3", "binance", breach.SeverityHigh}})
	g.release(len(evs))
	waitFor(t, "batch acked", func() bool { return g.c.Stats().Acked == 4 })
	calls := withoutGate(st.all())
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3 per-bot starts", len(calls))
	}
	for _, r := range calls {
		if r.Runbook.Name != "contain-key-breach" {
			t.Fatalf("call %s for runbook %s", r.IncidentID, r.Runbook.Name)
		}
	}
	if s := g.c.Stats(); s.FleetStarted != 0 || s.Started != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func keys(m map[string]StartRequest) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Given a blast-radius cap of 3 incidents per exchange,
// When one batch hands 4 bots of binance to the fleet runbook,
// Then the fleet start counts as 4 incidents: it holds its irreversible
// steps (the per-bot starts) for on-call, says why, and the limiter has
// recorded all 4 bots.
func TestFleetStartCountsAsItsBotsAgainstTheCap(t *testing.T) {
	e := newEnv(t)
	lim, err := NewStreamLimiter(context.Background(), e.js, LimitConfig{Window: time.Hour, PerExchange: 3})
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStarter{}
	g := e.runGated(st, func(c *Config) { c.Runbooks = fleetBooks(true); c.Limiter = lim })
	evs := e.publishAll([]pub{
		{"f1", "binance", breach.SeverityHigh},
		{"f2", "binance", breach.SeverityHigh},
		{"f3", "binance", breach.SeverityHigh},
		{"f4", "binance", breach.SeverityHigh},
	})
	g.release(len(evs))
	waitFor(t, "batch acked", func() bool { return g.c.Stats().Acked == 1+uint64(len(evs)) })
	var fleet *StartRequest
	for _, r := range withoutGate(st.all()) {
		if r.Runbook.Name == "contain-fleet" {
			fleet = &r
		}
	}
	if fleet == nil {
		t.Fatal("no fleet start")
	}
	if !fleet.HoldIrreversible || !strings.Contains(fleet.HoldIrreversibleReason, "on binance") {
		t.Fatalf("fleet of 4 past a cap of 3: hold %v, reason %q", fleet.HoldIrreversible, fleet.HoldIrreversibleReason)
	}
	// 4 recorded: one more incident on binance is past the cap too.
	if hold, _, _ := lim.Check(context.Background(), "binance"); !hold {
		t.Fatal("the fleet's 4 bots were not recorded against the cap")
	}
	// The gate event of runGated started one incident on binance too: 5
	// recorded in all.
	lim2, _ := NewStreamLimiter(context.Background(), e.js, LimitConfig{Window: time.Hour, PerExchange: 6})
	if hold, _, _ := lim2.Check(context.Background(), "binance"); hold {
		t.Fatal("5 recorded, a cap of 6 should not hold one more")
	}
	if hold, _, _ := lim2.CheckN(context.Background(), "binance", 2); !hold {
		t.Fatal("5 recorded + 2 more is past a cap of 6")
	}
}

// An account-wide event names no bot, so its reach is unknown to the
// consumer: with any cap set it holds its irreversible steps.
func TestAccountWideEventHoldsWhileACapIsSet(t *testing.T) {
	e := newEnv(t)
	lim, err := NewStreamLimiter(context.Background(), e.js, LimitConfig{Window: time.Hour, PerExchange: 100})
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStarter{}
	rb := containRunbook()
	rb.Runbook.Name = "contain-fleet"
	rb.Runbook.Triggers = []runbooks.Trigger{{Subject: "breach.*.account_leaked",
		Inputs: map[string]string{"bot": "${{ event.data.exchange }}", "exchange": "${{ event.data.exchange }}"}}}
	c, _ := e.runConsumer(st, func(c *Config) {
		c.Runbooks = func() []LoadedRunbook { return []LoadedRunbook{rb} }
		c.Limiter = lim
	})
	ev := breach.New("test", breach.KindAccountLeaked, breach.Data{Exchange: "binance", Severity: breach.SeverityCritical,
		Source: "test"}, time.Now())
	e.publish(ev)
	waitFor(t, "acked", func() bool { return c.Stats().Acked == 1 })
	starts, _, _ := st.snapshot()
	if len(starts) != 1 || !starts[0].HoldIrreversible || !strings.Contains(starts[0].HoldIrreversibleReason, "account-wide") {
		t.Fatalf("starts %+v", starts)
	}
}
