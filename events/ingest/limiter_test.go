package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

func TestMemoryLimiterSlidingWindow(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	l := &MemoryLimiter{Config: LimitConfig{Window: 10 * time.Minute, Global: 3, PerExchange: 1}, Now: func() time.Time { return now }}
	ctx := context.Background()
	check := func(ex string) bool {
		hold, _, err := l.Check(ctx, ex)
		if err != nil {
			t.Fatal(err)
		}
		return hold
	}
	if check("binance") {
		t.Fatal("held before any incident")
	}
	_ = l.Record(ctx, "rb:a", "binance")
	_ = l.Record(ctx, "rb:a", "binance") // same incident again: counted once
	if !check("binance") || check("okx") {
		t.Fatal("per-exchange cap")
	}
	now = now.Add(5 * time.Minute)
	_ = l.Record(ctx, "rb:b", "okx")
	_ = l.Record(ctx, "rb:c", "bybit")
	if !check("kraken") {
		t.Fatal("global cap of 3 not applied")
	}
	now = now.Add(5*time.Minute + time.Second) // rb:a left the window
	if check("binance") || check("kraken") {
		t.Fatal("expired start still counted")
	}
}

// The JetStream-backed limiter through the consumer: past the cap, new
// incidents still start but hold their irreversible steps, and say why.
func TestBlastRadiusLimitHoldsIrreversibleSteps(t *testing.T) {
	e := newEnv(t)
	lim, err := NewStreamLimiter(context.Background(), e.js, LimitConfig{Window: time.Hour, Global: 3, PerExchange: 2})
	if err != nil {
		t.Fatal(err)
	}
	st := &fakeStarter{}
	c, _ := e.runConsumer(st, func(c *Config) { c.Limiter = lim })
	now := time.Now()
	for _, b := range []struct{ bot, ex string }{{"a", "binance"}, {"b", "binance"}, {"a", "binance"}, {"c", "binance"}, {"d", "okx"}} {
		ev := event(b.bot, "key_leaked", breach.SeverityCritical, now)
		ev.Data.Exchange = b.ex
		e.publish(ev)
	}
	waitFor(t, "acks", func() bool { return c.Stats().Acked == 5 })
	starts, signals, _ := st.snapshot()
	evidence := 0
	for _, r := range append(starts, signals...) {
		evidence += len(r.evidence())
	}
	// a's second event is a signal, or rides along with a's start when
	// both came in one batch.
	if s := c.Stats(); len(starts) != 4 || evidence != 5 || s.Started != 4 || s.Signalled != 1 {
		t.Fatalf("starts %d signals %d evidence %d stats %+v", len(starts), len(signals), evidence, s)
	}
	held := map[string]string{}
	for _, s := range starts {
		if s.HoldIrreversible {
			held[s.IncidentID] = s.HoldIrreversibleReason
		}
	}
	if _, ok := held["contain-key-breach:a"]; ok || len(held) != 2 {
		t.Fatalf("held %v", held)
	}
	if r := held["contain-key-breach:c"]; !strings.Contains(r, "on binance") || !strings.Contains(r, "approve") {
		t.Fatalf("reason for c: %q", r)
	}
	if r := held["contain-key-breach:d"]; !strings.Contains(r, "in total") {
		t.Fatalf("reason for d: %q", r)
	}
	if s := c.Stats(); s.Held != 2 {
		t.Fatalf("stats %+v", s)
	}
	// The count lives in the stream: a new limiter (restart) sees it.
	lim2, _ := NewStreamLimiter(context.Background(), e.js, LimitConfig{Window: time.Hour, Global: 10, PerExchange: 4})
	if hold, _, _ := lim2.Check(context.Background(), "binance"); hold {
		t.Fatal("3 of 4 on binance should not hold")
	}
	_ = lim2.Record(context.Background(), "x:1", "binance")
	if hold, _, _ := lim2.Check(context.Background(), "binance"); !hold {
		t.Fatal("4 of 4 on binance should hold")
	}
}
