package ingest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// Given a burst of events for several bots fetched as one batch,
// When the consumer handles it,
// Then the Starter is called exactly once per incident, with the first
// event as Evidence and the others as MoreEvidence in stream order.
func TestBurstIsOneStarterCallPerIncident(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	g := e.runGated(st)
	bots := []string{"b1", "b2", "b3", "b4", "b5"}
	want := map[string][]string{} // incident -> event ids in stream order
	now := time.Now()
	for i := range 200 {
		bot := bots[i%len(bots)]
		ev := e.sign(event(bot, "key_leaked", breach.SeverityHigh, now))
		if _, err := Publish(context.Background(), e.js, ev); err != nil {
			t.Fatal(err)
		}
		id := "contain-key-breach:" + bot
		want[id] = append(want[id], ev.ID)
	}
	g.release(200)
	waitFor(t, "all acked", func() bool { return g.c.Stats().Acked == 201 })

	calls := withoutGate(st.all())
	if len(calls) != len(bots) {
		t.Fatalf("%d starter calls for %d incidents in one batch", len(calls), len(bots))
	}
	for _, r := range calls {
		var got []string
		for _, ev := range r.evidence() {
			got = append(got, ev.EventID)
			if ev.Subject != "breach."+strings.TrimPrefix(r.IncidentID, "contain-key-breach:")+".key_leaked" {
				t.Errorf("%s carries evidence of %s", r.IncidentID, ev.Subject)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want[r.IncidentID]) {
			t.Errorf("%s: evidence %v, want stream order %v", r.IncidentID, got, want[r.IncidentID])
		}
		if r.Event["id"] != want[r.IncidentID][0] {
			t.Errorf("%s started from event %v, want the first %s", r.IncidentID, r.Event["id"], want[r.IncidentID][0])
		}
	}
	s := g.c.Stats()
	if s.Started != 6 || s.Signalled != 195 || s.StarterCalls != 6 || s.DeadLetteredTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
	if n, ack := e.pending(DefaultDurable); n != 0 {
		t.Fatalf("pending %d ack-pending %d", n, ack)
	}
}

// Given one batch where one incident's Starter call fails,
// Then only that incident's messages are naked and, redelivered, start
// it; the other incidents' messages are acked at once.
func TestStarterFailureNaksOnlyItsIncident(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{failFor: map[string]int{"contain-key-breach:bad": 1}}
	g := e.runGated(st)
	var badIDs []string
	now := time.Now()
	for i := range 30 {
		bot := []string{"ok1", "bad", "ok2"}[i%3]
		ev := e.sign(event(bot, "key_leaked", breach.SeverityHigh, now))
		if _, err := Publish(context.Background(), e.js, ev); err != nil {
			t.Fatal(err)
		}
		if bot == "bad" {
			badIDs = append(badIDs, ev.ID)
		}
	}
	g.release(30)
	waitFor(t, "all acked", func() bool { return g.c.Stats().Acked == 31 })
	s := g.c.Stats()
	if s.Retried != 10 || s.Received != 41 || s.Started != 4 || s.DeadLetteredTotal() != 0 {
		t.Fatalf("stats %+v: want exactly the 10 messages of the failed incident retried", s)
	}
	var got []string
	for _, r := range withoutGate(st.all()) {
		if r.IncidentID == "contain-key-breach:bad" {
			for _, ev := range r.evidence() {
				got = append(got, ev.EventID)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(badIDs) {
		t.Fatalf("failed incident's events after retry %v, want %v", got, badIDs)
	}
}

// Given a batch mixing good events, an event replayed under a new
// Nats-Msg-Id (twice inside the batch, again in a later batch), a forged
// signature and broken JSON,
// Then the bad ones are dead-lettered with their reason, the first copy
// of an event (stream order) is the one accepted, and the good ones start
// their incidents.
func TestMixedBatchDeadLettersBadEvents(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	g := e.runGated(st) // the gate event is seq 1
	good := mustJSON(t, e.sign(event("m1", "key_leaked", breach.SeverityHigh, time.Now())))
	forged, _ := breach.Sign(event("m2", "key_leaked", breach.SeverityHigh, time.Now()), breach.Keyring{"k1": []byte("attacker-guessed-key-attacker-guessed")}, "k1")
	e.publishRaw("breach.m1.key_leaked", good, "good")                    // seq 2: accepted
	e.publishRaw("breach.m2.key_leaked", mustJSON(t, forged), "forged")   // seq 3
	e.publishRaw("breach.m1.key_leaked", good, "good-again")              // seq 4: replay in the batch
	e.publishRaw("breach.m3.key_leaked", []byte(`{"specversion":`), "bj") // seq 5
	e.publish(event("m4", "key_leaked", breach.SeverityHigh, time.Now())) // seq 6
	g.release(5)
	waitFor(t, "batch acked", func() bool { return g.c.Stats().Acked == 6 })
	e.publishRaw("breach.m1.key_leaked", good, "good-later") // seq 7: replay in a later batch
	waitFor(t, "all acked", func() bool { return g.c.Stats().Acked == 7 })

	reasons := map[string]breach.Reason{}
	for _, m := range e.dlq() {
		reasons[m.Header.Get(HeaderDlqSeq)] = breach.Reason(m.Header.Get(HeaderDlqReason))
	}
	want := map[string]breach.Reason{"3": breach.ReasonBadSignature, "4": breach.ReasonReplayed, "5": breach.ReasonMalformedJSON, "7": breach.ReasonReplayed}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Fatalf("dead letters by stream seq %v, want %v", reasons, want)
	}
	var started []string
	for _, r := range withoutGate(st.all()) {
		started = append(started, r.IncidentID)
	}
	sort.Strings(started) // incidents start concurrently
	if fmt.Sprint(started) != "[contain-key-breach:m1 contain-key-breach:m4]" {
		t.Fatalf("started %v", started)
	}
}

// MatchEvent takes the incident id from the event's subject: for an
// account-wide event (no bot) that is the exchange account.
func TestAccountWideEventIncidentID(t *testing.T) {
	rb := containRunbook()
	rb.Runbook.Inputs[0].Required = false
	rb.Runbook.Triggers[0].Subject = "breach.*.account_leaked"
	ev := event("", "account_leaked", breach.SeverityCritical, time.Now())
	ev.Subject = "binance-main"
	m, err := ev.Map()
	if err != nil {
		t.Fatal(err)
	}
	ms, err := MatchEvent([]LoadedRunbook{rb}, ev, m, ev.NATSSubject())
	if err != nil || len(ms) != 1 || ms[0].IncidentID != "contain-key-breach:binance-main" {
		t.Fatalf("matches %+v err %v", ms, err)
	}
}

// Given one batch with events of one bot for two incidents (a dedup
// split), Then the incidents are started in stream order, not
// concurrently.
func TestOneBotsIncidentsStartInStreamOrder(t *testing.T) {
	for range 5 {
		e := newEnv(t)
		rb := containRunbook()
		rb.Runbook.Triggers[0].Dedup = "${{ event.data.key_id }}"
		st := &fakeStarter{delay: time.Millisecond}
		g := e.runGated(st, func(c *Config) { c.Runbooks = func() []LoadedRunbook { return []LoadedRunbook{rb} } })
		var want []string
		for i := range 6 {
			ev := event("bot-k", "key_leaked", breach.SeverityHigh, time.Now())
			ev.Data.KeyID = fmt.Sprintf("AK-%d", i)
			e.publish(ev)
			want = append(want, "contain-key-breach:bot-k:AK-"+fmt.Sprint(i))
		}
		g.release(6)
		waitFor(t, "acks", func() bool { return g.c.Stats().Acked == 7 })
		starts, _, _ := st.snapshot()
		var got []string
		for _, s := range starts[1:] { // starts[0] is the gate
			got = append(got, s.IncidentID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("one bot's incidents started in order %v, want %v", got, want)
		}
	}
}
