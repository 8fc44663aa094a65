package ingest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

func TestValidEventStartsOneIncident(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	c, _ := e.runConsumer(st)
	ev := e.sign(event("bot-7", "key_leaked", breach.SeverityCritical, time.Now()))
	if _, err := Publish(context.Background(), e.js, ev); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ack", func() bool { return c.Stats().Acked == 1 })

	starts, signals, _ := st.snapshot()
	if len(starts) != 1 || len(signals) != 0 {
		t.Fatalf("starts %d signals %d", len(starts), len(signals))
	}
	r := starts[0]
	if r.IncidentID != "contain-key-breach:bot-7" || r.RunbookHash != "sha256:test" || r.StartedBy != "/test" {
		t.Fatalf("request %+v", r)
	}
	if r.Inputs["bot"] != "bot-7" || r.Inputs["exchange"] != "binance" || r.Inputs["cancel_orders"] != true {
		t.Fatalf("inputs %v", r.Inputs)
	}
	if r.Event["id"] != ev.ID || r.Evidence.EventID != ev.ID || r.Evidence.Subject != "breach.bot-7.key_leaked" {
		t.Fatalf("event %v evidence %+v", r.Event["id"], r.Evidence)
	}
	in := r.IncidentInput(nil)
	if in.Trigger != "event" || in.IncidentID != r.IncidentID || in.Event["subject"] != "bot-7" {
		t.Fatalf("incident input %+v", in)
	}
	if s := c.Stats(); s.Started != 1 || s.DeadLetteredTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
	// Acks are fire-and-forget now: the server settles them shortly after.
	waitFor(t, "nothing pending", func() bool {
		n, ack := e.pending(DefaultDurable)
		return n == 0 && ack == 0
	})
}

func TestStormForOneBotStartsOneIncident(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	c, _ := e.runConsumer(st)
	now := time.Now()
	ids := map[string]bool{}
	for i := range 1000 {
		ev := event("bot-storm", "key_leaked", breach.SeverityHigh, now)
		ev.Data.Evidence["n"] = i
		ids[ev.ID] = true
		e.publish(ev)
	}
	// Another bot in the middle of the storm gets its own incident.
	e.publish(event("bot-other", "key_leaked", breach.SeverityHigh, now))
	waitFor(t, "1001 acks", func() bool { return c.Stats().Acked == 1001 })
	starts, signals, calls := st.snapshot()
	if len(starts) != 2 || calls >= 1001 {
		t.Fatalf("starts %d signals %d calls %d: want 2 starts, batched evidence", len(starts), len(signals), calls)
	}
	if starts[0].IncidentID != "contain-key-breach:bot-storm" && starts[1].IncidentID != "contain-key-breach:bot-storm" {
		t.Fatalf("starts %s %s", starts[0].IncidentID, starts[1].IncidentID)
	}
	for _, s := range append(starts, signals...) {
		for _, ev := range s.evidence() {
			if !ids[ev.EventID] && s.IncidentID == "contain-key-breach:bot-storm" {
				t.Fatalf("event %s reached the starter twice or for the wrong incident", ev.EventID)
			}
			delete(ids, ev.EventID)
		}
	}
	if len(ids) != 0 {
		t.Fatalf("%d storm events never reached the starter", len(ids))
	}
	if s := c.Stats(); s.Started != 2 || s.Signalled != 999 || s.DeadLetteredTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBadEventsAreDeadLettered(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	c, _ := e.runConsumer(st, func(c *Config) { c.Verifier.AllowUnsigned = []string{"breach.drill"} })
	now := time.Now()
	kr := testKeyring()

	type bad struct {
		subject string
		body    []byte
		want    breach.Reason
	}
	var cases []bad
	add := func(subject string, body []byte, want breach.Reason) {
		cases = append(cases, bad{subject, body, want})
	}
	good := e.sign(event("bot-1", "key_leaked", breach.SeverityHigh, now))
	goodBody := mustJSON(t, good)

	forged, _ := breach.Sign(event("bot-1", "key_leaked", breach.SeverityHigh, now), breach.Keyring{"k1": []byte("attacker-guessed-key-attacker-guessed")}, "k1")
	add("breach.bot-1.key_leaked", mustJSON(t, forged), breach.ReasonBadSignature)
	unknown, _ := breach.Sign(event("bot-1", "key_leaked", breach.SeverityHigh, now), breach.Keyring{"k-retired": testKey}, "k-retired")
	add("breach.bot-1.key_leaked", mustJSON(t, unknown), breach.ReasonUnknownKey)
	tampered := strings.Replace(string(goodBody), `"exchange":"binance"`, `"exchange":"bybit"`, 1)
	add("breach.bot-1.key_leaked", []byte(tampered), breach.ReasonBadSignature)
	old, _ := breach.Sign(event("bot-1", "key_leaked", breach.SeverityHigh, now.Add(-10*time.Minute)), kr, "k1")
	add("breach.bot-1.key_leaked", mustJSON(t, old), breach.ReasonExpired)
	future, _ := breach.Sign(event("bot-1", "key_leaked", breach.SeverityHigh, now.Add(10*time.Minute)), kr, "k1")
	add("breach.bot-1.key_leaked", mustJSON(t, future), breach.ReasonFuture)
	add("breach.bot-1.key_leaked", []byte(`{"specversion":"1.0",`), breach.ReasonMalformedJSON)
	add("breach.bot-1.key_leaked", []byte("\x00\xff"), breach.ReasonMalformedJSON)
	add("breach.bot-1.key_leaked", []byte(``), breach.ReasonMalformedJSON)
	wrongType := strings.Replace(string(goodBody), `"severity":"high"`, `"severity":3`, 1)
	add("breach.bot-1.key_leaked", []byte(wrongType), breach.ReasonSchema)
	noData := strings.Replace(string(goodBody), `"data":`, `"dota":`, 1)
	add("breach.bot-1.key_leaked", []byte(noData), breach.ReasonSchema)
	add("breach.bot-1.key_leaked", []byte(`{"pad":"`+strings.Repeat("A", 70<<10)+`"}`), breach.ReasonOversized)
	unsigned := event("bot-1", "key_leaked", breach.SeverityHigh, now)
	add("breach.bot-1.key_leaked", mustJSON(t, unsigned), breach.ReasonUnsigned)
	add("breach.bot-2.key_leaked", goodBody, breach.ReasonSubjectMismatch)
	add("breach.bot-1", goodBody, breach.ReasonSubjectMismatch)
	secret := event("bot-1", "key_leaked", breach.SeverityHigh, now)
	secret.Data.Evidence["api_secret"] = "LEAKED-SECRET-VALUE"
	add("breach.bot-1.key_leaked", mustJSON(t, secret), breach.ReasonSecretField)

	for i, b := range cases {
		e.publishRaw(b.subject, b.body, "bad-"+string(rune('a'+i)))
	}
	// A valid event, then the same event again under another Nats-Msg-Id
	// (a replay that slips past JetStream's publish dedup).
	e.publishRaw("breach.bot-1.key_leaked", goodBody, "good-1")
	e.publishRaw("breach.bot-1.key_leaked", goodBody, "replay-1")
	cases = append(cases, bad{"breach.bot-1.key_leaked", goodBody, breach.ReasonReplayed})
	// Unsigned on the operator-allowed prefix is accepted.
	drill := event("drill", "key_leaked", breach.SeverityHigh, now)
	e.publishRaw("breach.drill.key_leaked", mustJSON(t, drill), "drill-1")

	total := uint64(len(cases) + 2)
	waitFor(t, "all acked", func() bool { return c.Stats().Acked == total })

	starts, signals, _ := st.snapshot()
	if len(starts) != 2 || len(signals) != 0 {
		t.Fatalf("starts %d signals %d: bad events must start nothing", len(starts), len(signals))
	}
	got := map[breach.Reason]int{}
	for _, m := range e.dlq() {
		r := breach.Reason(m.Header.Get(HeaderDlqReason))
		got[r]++
		if m.Header.Get(HeaderDlqError) == "" || m.Header.Get(HeaderDlqSeq) == "" || !strings.HasPrefix(m.Subject, "dlq.breach.") {
			t.Errorf("dead letter without context: %s %v", m.Subject, m.Header)
		}
		if strings.Contains(string(m.Data), "LEAKED-SECRET-VALUE") || strings.Contains(strings.Join(m.Header.Values(HeaderDlqError), ""), "LEAKED-SECRET-VALUE") {
			t.Errorf("secret value copied into the DLQ")
		}
		if r == breach.ReasonBadSignature && !strings.Contains(string(m.Data), `"sigkeyid":"k1"`) {
			t.Errorf("dead letter lost the original body")
		}
	}
	want := map[breach.Reason]int{}
	for _, b := range cases {
		want[b.want]++
	}
	for r, n := range want {
		if got[r] != n {
			t.Errorf("reason %s: %d dead letters, want %d", r, got[r], n)
		}
	}
	if s := c.Stats(); s.DeadLetteredTotal() != uint64(len(cases)) || s.Erased != 1 {
		t.Errorf("stats %+v", s)
	}
	// The secret-bearing message is gone from BREACH.
	st2, _ := e.js.Stream(context.Background(), StreamBreach)
	info, _ := st2.Info(context.Background())
	if info.State.Msgs != total-1 {
		t.Errorf("BREACH holds %d messages, want %d (secret-bearing one erased)", info.State.Msgs, total-1)
	}
	// The consumer is still running.
	e.publish(event("bot-after", "key_leaked", breach.SeverityHigh, time.Now()))
	waitFor(t, "event after the bad ones", func() bool { return c.Stats().Started == 3 })
}

func TestStarterFailuresAreRetried(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{failNext: 2}
	c, _ := e.runConsumer(st)
	e.publish(event("bot-r", "key_leaked", breach.SeverityHigh, time.Now()))
	waitFor(t, "ack", func() bool { return c.Stats().Acked == 1 })
	starts, signals, calls := st.snapshot()
	if len(starts) != 1 || len(signals) != 0 || calls != 3 {
		t.Fatalf("starts %d signals %d calls %d", len(starts), len(signals), calls)
	}
	if s := c.Stats(); s.Received != 3 || s.Retried != 2 || s.DeadLetteredTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStarterDownTooLongDeadLetters(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{failNext: 1 << 30}
	c, _ := e.runConsumer(st, func(c *Config) { c.MaxDeliver = 3 })
	e.publish(event("bot-d", "key_leaked", breach.SeverityHigh, time.Now()))
	waitFor(t, "dead letter", func() bool { return c.Stats().DeadLettered[ReasonStartFailed] == 1 })
	d := e.dlq()
	if len(d) != 1 || d[0].Header.Get(HeaderDlqDelivered) != "3" || !strings.Contains(d[0].Header.Get(HeaderDlqError), "injected") {
		t.Fatalf("dlq %+v", d)
	}
}

func TestNoMatch(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	c, _ := e.runConsumer(st, func(c *Config) { c.RequireMatch = true })
	// Wrong kind, and a severity the runbook's `when` excludes.
	e.publish(event("bot-n", "unknown_ip", breach.SeverityHigh, time.Now()))
	e.publish(event("bot-n", "key_leaked", breach.SeverityLow, time.Now()))
	waitFor(t, "acks", func() bool { return c.Stats().Acked == 2 })
	if s := c.Stats(); s.DeadLettered[ReasonNoMatch] != 2 || s.Started != 0 {
		t.Fatalf("stats %+v", s)
	}

	e2 := newEnv(t)
	c2, _ := e2.runConsumer(&fakeStarter{})
	e2.publish(event("bot-n", "unknown_ip", breach.SeverityHigh, time.Now()))
	waitFor(t, "ack", func() bool { return c2.Stats().Acked == 1 })
	if s := c2.Stats(); s.Unmatched != 1 || s.DeadLetteredTotal() != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestBrokenTriggerDeadLetters(t *testing.T) {
	e := newEnv(t)
	rb := containRunbook()
	rb.Runbook.Triggers[0].When = `event.data.severity` // not a bool
	c, _ := e.runConsumer(&fakeStarter{}, func(c *Config) {
		c.Runbooks = func() []LoadedRunbook { return []LoadedRunbook{rb} }
	})
	e.publish(event("bot-t", "key_leaked", breach.SeverityHigh, time.Now()))
	waitFor(t, "ack", func() bool { return c.Stats().Acked == 1 })
	if c.Stats().DeadLettered[ReasonTrigger] != 1 {
		t.Fatalf("stats %+v", c.Stats())
	}
}

func TestDedupTemplateSplitsIncidents(t *testing.T) {
	e := newEnv(t)
	rb := containRunbook()
	rb.Runbook.Triggers[0].Dedup = "${{ event.data.key_id }}"
	st := &fakeStarter{}
	c, _ := e.runConsumer(st, func(c *Config) {
		c.Runbooks = func() []LoadedRunbook { return []LoadedRunbook{rb} }
	})
	a := event("bot-k", "key_leaked", breach.SeverityHigh, time.Now())
	b := event("bot-k", "key_leaked", breach.SeverityHigh, time.Now())
	b.Data.KeyID = "AK-second"
	e.publish(a)
	e.publish(b)
	waitFor(t, "acks", func() bool { return c.Stats().Acked == 2 })
	starts, _, _ := st.snapshot()
	if len(starts) != 2 || starts[0].IncidentID != "contain-key-breach:bot-k:AK-bot-k" || starts[1].IncidentID != "contain-key-breach:bot-k:AK-second" {
		t.Fatalf("starts %+v", starts)
	}
}

func TestPublishDedupsRetries(t *testing.T) {
	e := newEnv(t)
	ev := e.sign(event("bot-p", "key_leaked", breach.SeverityHigh, time.Now()))
	for range 3 {
		if _, err := Publish(context.Background(), e.js, ev); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := e.js.Stream(context.Background(), StreamBreach)
	info, _ := st.Info(context.Background())
	if info.State.Msgs != 1 {
		t.Fatalf("%d messages, want 1", info.State.Msgs)
	}
	// Publish refuses what the consumer would dead-letter.
	bad := ev
	bad.Data.Severity = "extreme"
	if _, err := Publish(context.Background(), e.js, bad); breach.ReasonOf(err) != breach.ReasonSchema {
		t.Fatalf("got %v", err)
	}
}

// Restart the consumer, then the nats-server (same store dir and port), in
// the middle of a stream of events: every event still starts its incident
// exactly once and nothing is dead-lettered.
func TestRestartsLoseNothing(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{delay: 3 * time.Millisecond}
	port := serverPort(e.srv)
	now := time.Now
	bots := 0
	publishBatch := func(n int) {
		for range n {
			bots++
			ev := e.sign(event("bot-"+itoa(bots), "key_leaked", breach.SeverityHigh, now()))
			// Retry through a reconnect; the Nats-Msg-Id dedups a retry
			// whose first attempt was stored.
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err := Publish(ctx, e.js, ev)
				cancel()
				if err == nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	c1, stop1 := e.runConsumer(st)
	publishBatch(100)
	waitFor(t, "some progress", func() bool { return c1.Stats().Acked >= 20 })
	stop1() // consumer restart mid-stream
	publishBatch(50)
	c2, stop2 := e.runConsumer(st)
	publishBatch(50)
	waitFor(t, "progress after consumer restart", func() bool { return c2.Stats().Acked >= 10 })

	// nats-server restart on the same store, while events keep coming.
	n, _ := e.pending(DefaultDurable)
	t.Logf("restarting nats-server with %d of 200 events not yet delivered", n)
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.srv = natsServer(t, e.dir, port)
	publishBatch(100)
	waitFor(t, "all 300 incidents", func() bool {
		starts, _, _ := st.snapshot()
		return len(starts) >= 300
	})
	// Acks lost in the server restart come back as redeliveries after
	// AckWait; they must be signals, not second starts.
	waitFor(t, "nothing left unacked", func() bool {
		n, ack := e.pending(DefaultDurable)
		return n == 0 && ack == 0
	})
	stop2()
	starts, _, _ := st.snapshot()
	seen := map[string]int{}
	for _, s := range starts {
		seen[s.IncidentID]++
	}
	for i := 1; i <= 300; i++ {
		if n := seen["contain-key-breach:bot-"+itoa(i)]; n != 1 {
			t.Errorf("bot-%d started %d times", i, n)
		}
	}
	if len(e.dlq()) != 0 {
		t.Errorf("dead letters after restarts: %d", len(e.dlq()))
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// Deleting the durable consumer under a running Run ends Run with an error
// instead of leaving a consumer that silently consumes nothing.
func TestRunReturnsWhenConsumerDeleted(t *testing.T) {
	e := newEnv(t)
	c, err := NewConsumer(context.Background(), e.js, Config{
		Verifier: &breach.Verifier{Keys: testKeyring()},
		Runbooks: func() []LoadedRunbook { return nil },
		Starter:  &fakeStarter{},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- c.Run(ctx) }()
	e.publish(event("bot-z", "key_leaked", breach.SeverityHigh, time.Now()))
	waitFor(t, "ack", func() bool { return c.Stats().Acked == 1 })
	if err := e.js.DeleteConsumer(context.Background(), StreamBreach, DefaultDurable); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run returned nil after its consumer was deleted")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run kept running without a consumer")
	}
}

// A panicking Starter does not take the consumer down: the message is
// redelivered and processed once the Starter behaves.
func TestStarterPanicIsRetried(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{panics: 1}
	c, _ := e.runConsumer(st)
	e.publish(event("bot-panic", "key_leaked", breach.SeverityHigh, time.Now()))
	waitFor(t, "ack", func() bool { return c.Stats().Acked == 1 })
	if starts, _, calls := st.snapshot(); len(starts) != 1 || calls != 2 {
		t.Fatalf("starts %d calls %d", len(starts), calls)
	}
}
