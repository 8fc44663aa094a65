package audit_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/audit/audittest"
)

func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	if _, err := audit.EnsureStream(context.Background(), js, audit.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return js
}

const id = "contain-key-breach:bot-1"

func TestProjectionFromTheStream(t *testing.T) {
	js := jetStream(t)
	ctx := context.Background()
	store := audit.NewStore(js, audit.WithKeys(audittest.Keys()))
	for _, r := range audittest.Trail(id) {
		if _, err := store.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// A second incident, still waiting for an approval.
	running := []audit.Record{
		audit.Opened("rotate-keys:bot-2", audit.OpenedFacts{Runbook: "rotate-keys", Trigger: "manual", StartedBy: "bob"}),
		audit.ApprovalAskedFact("rotate-keys:bot-2", "go", "oncall", "rotate now?"),
	}
	for _, r := range running {
		r.Time = audittest.EventTime.Add(time.Hour)
		if _, err := store.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	recs, err := audit.Load(ctx, js, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(recs); err != nil {
		t.Fatal(err)
	}
	v := audit.Project(recs)
	if v.Status != audit.StatusFailed || v.Error != "step verify_key failed" || v.Runbook != "contain-key-breach" ||
		v.RunbookHash != "sha256:3b7e1c0d9a55" || v.TriggerEventID != "evt-7f3a" || v.StartedBy != "alertmanager" {
		t.Fatalf("header fields: %+v", v)
	}
	ttc, from, ok := v.TimeToContain()
	if !ok || from != "event" || ttc != 150*time.Millisecond || v.ContainedBy != "restrict_key (exchange.set_ip_whitelist)" {
		t.Fatalf("time to contain = %v from %s by %q (ok %v), want 150ms from the event by restrict_key", ttc, from, v.ContainedBy, ok)
	}
	if v.Evidence != 3 || len(v.KeysChanged) != 3 || len(v.Notifications) != 1 || v.Records != len(recs) {
		t.Fatalf("counts: evidence %d keys %d notifications %d records %d", v.Evidence, len(v.KeysChanged), len(v.Notifications), v.Records)
	}
	if k := v.KeysChanged[1]; k.Change != "created" || k.Fingerprint != "sha256:c9d2e7" || k.KeyID != "Xk2P…U5wY" {
		t.Fatalf("created key = %+v", k)
	}
	if len(v.Approvals) != 1 || v.Approvals[0].Identity != "alice@oncall" || v.Approvals[0].Status != audit.StatusGranted {
		t.Fatalf("approvals = %+v", v.Approvals)
	}
	steps := map[string]audit.StepView{}
	for _, s := range v.Steps {
		steps[s.ID] = s
	}
	for id, want := range map[string]string{"restrict_key": "succeeded", "freeze_bot": "succeeded", "cancel_orders": "succeeded",
		"create_key": "succeeded", "revoke_old": "succeeded", "notify_oncall": "succeeded", "verify_key": "failed", "unfreeze_bot": "skipped"} {
		if steps[id].Status != want {
			t.Errorf("step %s = %s, want %s", id, steps[id].Status, want)
		}
	}
	if steps["cancel_orders"].Attempts != 2 {
		t.Errorf("cancel_orders attempts = %d", steps["cancel_orders"].Attempts)
	}

	list, err := audit.ListIncidents(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].IncidentID != "rotate-keys:bot-2" || list[0].Status != audit.StatusWaiting ||
		list[1].IncidentID != id || list[1].Status != audit.StatusFailed {
		t.Fatalf("list = %+v", list)
	}
}

func TestTimelineText(t *testing.T) {
	recs := audit.Chain(audittest.Trail(id))
	var buf bytes.Buffer
	if err := audit.Timeline(&buf, recs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"Incident contain-key-breach:bot-1: failed",
		"Contained by restrict_key (exchange.set_ip_whitelist), 150ms after the event",
		"SEQ  TIME (UTC)               SINCE EVENT",
		"1    2026-11-27 09:00:00.040  +40ms",
		"approve_rekey  approved by alice@oncall: confirmed: key was on the phished laptop",
		"cancel_orders  exchange.cancel_orders retried (attempt 2)",
		"key vmPU…Eh8A on binance: revoked (sha256:aa41f0)",
		"sms sent to +491…5678 (SM5f1e)",
		"28   2026-11-27 09:01:41.200  +1m41s       -              incident closed: failed: step verify_key failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
}

func TestSubjectTokenRoundTrip(t *testing.T) {
	for _, s := range []string{"contain-key-breach:bot-1", "rotate-keys:bot.2:dedup_x", "a b*c>d", "ünïcode:bot", "__", "-"} {
		tok := audit.Token(s)
		if strings.ContainsAny(tok, ". *>\t\n") || tok == "" {
			t.Errorf("%q → %q is not one subject token", s, tok)
		}
		back, err := audit.IncidentOfSubject(audit.Subject(s))
		if err != nil || back != s {
			t.Errorf("%q → %q → %q, %v", s, tok, back, err)
		}
	}
	if _, err := audit.ParseToken("bad_4"); err == nil {
		t.Error("truncated escape accepted")
	}
}

// The id <runbook>:<bot> comes back when the bot is breached again: each
// occurrence is its own run, with its own facts, on one chain.
func TestSecondOccurrenceOfAnIncidentID(t *testing.T) {
	js := jetStream(t)
	ctx := context.Background()
	store := audit.NewStore(js, audit.WithKeys(audittest.Keys()))
	for i, run := range []string{"run-1", "run-2"} {
		for _, r := range []audit.Record{
			audit.Opened(id, audit.OpenedFacts{Runbook: "contain-key-breach", Trigger: "event", TriggerEventID: "evt-" + run}),
			audit.StepFact(id, "freeze_bot", audit.StepSucceeded, 1, false, map[string]string{"action": "bot.freeze"}),
			audit.Closed(id, "succeeded", ""),
		} {
			r.Run = run
			r.Time = audittest.EventTime.Add(time.Duration(i) * 24 * time.Hour)
			for range 2 { // retried: still once per run
				if _, err := store.Append(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	recs, err := audit.Load(ctx, js, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 {
		t.Fatalf("%d records, want 3 per occurrence", len(recs))
	}
	if err := audit.Verify(recs); err != nil {
		t.Fatal(err)
	}
	if latest := audit.Project(audit.Latest(recs)); latest.Run != "run-2" || latest.TriggerEventID != "evt-run-2" || latest.Records != 3 {
		t.Fatalf("latest = %+v", latest)
	}
	list, err := audit.ListIncidents(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Run != "run-2" || list[1].Run != "run-1" {
		t.Fatalf("list = %+v", list)
	}
	var buf bytes.Buffer
	if err := audit.Timeline(&buf, recs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "== occurrence 1 of 2 (run run-1) ==") || !strings.Contains(buf.String(), "== occurrence 2 of 2 (run run-2) ==") {
		t.Fatalf("timeline:\n%s", buf.String())
	}
}
