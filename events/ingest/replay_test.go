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
	if fresh, err := g.Claim(ctx, "k", 7); !fresh || err != nil {
		t.Fatal(fresh, err)
	}
	if fresh, err := g.Claim(ctx, "k", 7); !fresh || err != nil {
		t.Fatal("redelivery refused", err)
	}
	if fresh, err := g.Claim(ctx, "k", 8); fresh || err != nil {
		t.Fatal("replay accepted", err)
	}
}
