package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// Seen ids live in JetStream KV: a replay after a consumer and server
// restart is still refused, while the redelivery of the original message
// is not a replay.
func TestReplayRememberedAcrossRestarts(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	c1, stop1 := e.runConsumer(st)
	body := mustJSON(t, e.sign(event("bot-x", "key_leaked", breach.SeverityHigh, time.Now())))
	e.publishRaw("breach.bot-x.key_leaked", body, "first")
	waitFor(t, "first ack", func() bool { return c1.Stats().Acked == 1 })
	stop1()

	port := serverPort(e.srv)
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.srv = natsServer(t, e.dir, port)
	waitFor(t, "reconnect", e.nc.IsConnected)

	c2, _ := e.runConsumer(st)
	e.publishRaw("breach.bot-x.key_leaked", body, "second")
	waitFor(t, "replay dead-lettered", func() bool { return c2.Stats().DeadLettered[breach.ReasonReplayed] == 1 })
	if starts, signals, _ := st.snapshot(); len(starts) != 1 || len(signals) != 0 {
		t.Fatalf("starts %d signals %d", len(starts), len(signals))
	}

	// Same message, same sequence: a redelivery, not a replay.
	g := KVReplayGuard{KV: e.kv}
	ctx := context.Background()
	if fresh, err := g.Claim(ctx, "k", "7"); !fresh || err != nil {
		t.Fatal(fresh, err)
	}
	if fresh, err := g.Claim(ctx, "k", "7"); !fresh || err != nil {
		t.Fatal("redelivery refused", err)
	}
	if fresh, err := g.Claim(ctx, "k", "8"); fresh || err != nil {
		t.Fatal("replay accepted", err)
	}
}

// Given the same signed event stored first in two publisher lanes (the
// same stream sequence, 1, in each: sequences are per stream), when the
// consumer handles both, then one starts the incident and the other is
// refused as a replay — the claim names the stream, not only the sequence.
func TestReplayAcrossLanesAtTheSameSequence(t *testing.T) {
	e := newEnv(t)
	lanes := []Lane{{Publisher: "a"}, {Publisher: "b"}}
	if err := EnsureLaneStreams(context.Background(), e.js, lanes); err != nil {
		t.Fatal(err)
	}
	ev := e.sign(event("bot-r", "key_leaked", breach.SeverityHigh, time.Now()))
	body := mustJSON(t, ev)
	for _, l := range lanes {
		ack, err := e.js.Publish(context.Background(), LanePrefix+l.Publisher+"."+ev.NATSSubject(), body)
		if err != nil || ack.Sequence != 1 {
			t.Fatalf("lane %s: ack %+v, %v", l.Publisher, ack, err)
		}
	}
	st := &fakeStarter{}
	c, _ := e.runConsumer(st, func(cfg *Config) { cfg.Lanes = lanes })
	waitFor(t, "both handled", func() bool { return c.Stats().Acked == 2 })
	starts, signals, _ := st.snapshot()
	if s := c.Stats(); len(starts) != 1 || len(signals) != 0 || s.DeadLettered[breach.ReasonReplayed] != 1 {
		t.Fatalf("starts %d signals %d stats %+v: want one start and one replay", len(starts), len(signals), s)
	}
}

// Given a secret-bearing event at sequence 1 of BREACH and another at
// sequence 2 of lane "a", with an unrelated event at sequence 2 of BREACH,
// when both are erased, then each is deleted from its own stream and the
// unrelated BREACH message stays (an erase must never use another stream's
// sequence).
func TestEraseDeletesFromTheMessagesOwnStream(t *testing.T) {
	e := newEnv(t)
	lanes := []Lane{{Publisher: "a"}}
	if err := EnsureLaneStreams(context.Background(), e.js, lanes); err != nil {
		t.Fatal(err)
	}
	secret := func(bot string) []byte {
		ev := event(bot, "key_leaked", breach.SeverityHigh, time.Now())
		ev.Data.Evidence["api_secret"] = "LEAKED"
		return mustJSON(t, ev)
	}
	pub := func(subj string, body []byte) {
		if _, err := e.js.Publish(context.Background(), subj, body); err != nil {
			t.Fatal(err)
		}
	}
	pub("breach.bot-1.key_leaked", secret("bot-1"))
	pub("breach.bot-2.no_such_kind", []byte(`{}`)) // BREACH seq 2: dead-lettered, kept
	pub(LanePrefix+"a.breach.bot-3.key_leaked", []byte(`{}`))
	pub(LanePrefix+"a.breach.bot-3.key_leaked", secret("bot-3")) // lane seq 2
	c, _ := e.runConsumer(&fakeStarter{}, func(cfg *Config) { cfg.Lanes = lanes; cfg.BatchSize = 1 })
	waitFor(t, "all handled", func() bool { return c.Stats().Acked == 4 })
	waitFor(t, "both erased", func() bool { return c.Stats().Erased == 2 })
	get := func(stream string, seq uint64) error {
		st, err := e.js.Stream(context.Background(), stream)
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.GetMsg(context.Background(), seq)
		return err
	}
	if get(StreamBreach, 1) == nil || get(LaneStream("a"), 2) == nil {
		t.Error("a secret-bearing message is still in its stream")
	}
	if err := get(StreamBreach, 2); err != nil {
		t.Errorf("BREACH seq 2 (not secret) was deleted: %v", err)
	}
}
