package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
)

// Given the engine with contain-key-breach triggered by key_leaked events,
// When ≥10,000 bad events arrive — malformed JSON, forged signatures,
// replays of one event, bodies over the size limit and events of the wrong
// shape — all on subjects the runbook listens to,
// Then no incident starts, the engine keeps running, and every one of them
// is in the dead-letter stream with its reason.
func TestFault_BadEventsAtVolume(t *testing.T) {
	per := scaled(2500, 10)
	oversized := scaled(200, 10)
	f := startFaultEnv(t, 1)
	ctx := context.Background()
	js := f.env.stack.events.js
	kr := f.env.stack.keyring
	bot := f.bots[0]
	forgedKeys := breach.Keyring{"dev": []byte("not-the-engine-s-signing-key-000")}

	type bad struct {
		subject string
		body    []byte
	}
	want := map[breach.Reason]int{}
	var msgs []bad
	add := func(reason breach.Reason, subject string, body []byte) {
		msgs = append(msgs, bad{subject, body})
		want[reason]++
	}
	subject := breach.Subject(bot.ID, "key_leaked")
	valid := func(i int) breach.Event {
		return breach.New("fault-test", "key_leaked", breach.Data{Bot: bot.ID, Exchange: benchExchange, KeyID: bot.Key.ID,
			Severity: breach.Severity("high"), Source: "fault", Evidence: map[string]any{"i": i}}, time.Now())
	}
	for i := 0; i < per; i++ {
		// Malformed: cut JSON, or two objects.
		if i%2 == 0 {
			add(breach.ReasonMalformedJSON, subject, []byte(`{"specversion":"1.0","id":`))
		} else {
			add(breach.ReasonMalformedJSON, subject, []byte(`{} {}`))
		}
		// Forged: signed with a key the engine does not hold, same key id.
		ev, err := breach.Sign(valid(i), forgedKeys, "dev")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ev)
		add(breach.ReasonBadSignature, subject, b)
		// Wrong type: severity a number, bot missing.
		ev, err = breach.Sign(valid(i), kr, "dev")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		b, _ = json.Marshal(ev)
		_ = json.Unmarshal(b, &m)
		m["data"].(map[string]any)["severity"] = 42
		b, _ = json.Marshal(m)
		add(breach.ReasonSchema, subject, b)
	}
	// Replayed: one signed event of a kind no runbook handles (so the
	// original starts nothing either: it is dead-lettered as no_match),
	// then the same body again and again under new message ids.
	orig, err := breach.Sign(breach.New("fault-test", "probe_unhandled", breach.Data{Bot: bot.ID, Exchange: benchExchange,
		KeyID: bot.Key.ID, Severity: breach.Severity("high"), Source: "fault", Evidence: map[string]any{}}, time.Now()), kr, "dev")
	if err != nil {
		t.Fatal(err)
	}
	ob, _ := json.Marshal(orig)
	add(ingest.ReasonNoMatch, orig.NATSSubject(), ob)
	for i := 0; i < per; i++ {
		add(breach.ReasonReplayed, orig.NATSSubject(), ob)
	}
	// Oversized: a valid, signed event with a huge evidence field.
	for i := 0; i < oversized; i++ {
		ev := valid(i)
		ev.Data.Evidence["blob"] = strings.Repeat("x", breach.MaxEventBytes)
		ev, err := breach.Sign(ev, kr, "dev")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ev)
		add(breach.ReasonOversized, subject, b)
	}

	before := f.env.stack.events.consumer.Stats()
	// publishAll waits out the client's async-publish stall limit, which the
	// consumer's own dead-letter publishes on the same connection share.
	out := make([]*nats.Msg, 0, len(msgs))
	for _, m := range msgs {
		nm := nats.NewMsg(m.subject)
		nm.Data = m.body
		nm.Header.Set(jetstream.MsgIDHeader, uuid.NewString())
		out = append(out, nm)
	}
	if err := publishAll(js, out, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	total := uint64(len(msgs))
	deadline := time.Now().Add(5 * time.Minute)
	for {
		s := f.env.stack.events.consumer.Stats()
		if s.Acked-before.Acked >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer acked %d of %d bad events: %+v", s.Acked-before.Acked, total, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := f.env.stack.events.consumer.Stats()
	if s.Started != before.Started || s.Signalled != before.Signalled {
		t.Fatalf("bad events started %d and signalled %d incidents", s.Started-before.Started, s.Signalled-before.Signalled)
	}

	// Every bad event is in the dead-letter stream, with its reason: whole,
	// or counted in a summary once its reason's budget for the second is
	// spent.
	got := map[breach.Reason]int{}
	cons, err := js.OrderedConsumer(ctx, ingest.StreamDLQ, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(msgs); {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for m := range batch.Messages() {
			c := 1
			if m.Headers().Get(ingest.HeaderDlqSummary) == "true" {
				c, _ = strconv.Atoi(m.Headers().Get(ingest.HeaderDlqCount))
			}
			got[breach.Reason(m.Headers().Get(ingest.HeaderDlqReason))] += c
			k += c
		}
		if k == 0 {
			break
		}
		n += k
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dead letters by reason:\n got %v\nwant %v", got, want)
	}
	t.Logf("%d bad events, dead-lettered by reason: %v", len(msgs), got)
}
