package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// Given an incident that already ended,
// When a storm of later events for it arrives,
// Then each is acked as Closed, and Temporal is asked once (not once per
// event) while ClosedTTL runs; with the cache off it is asked every time.
func TestStormAfterCloseAsksTemporalOnce(t *testing.T) {
	for _, tc := range []struct {
		ttl       time.Duration
		wantCalls int
	}{{0, 1}, {-1, 50}} {
		t.Run(fmt.Sprintf("ttl=%s", tc.ttl), func(t *testing.T) {
			e := newEnv(t)
			st := &fakeStarter{closed: map[string]bool{"contain-key-breach:bot-7": true}}
			c, _ := e.runConsumer(st, func(c *Config) { c.ClosedTTL = tc.ttl })
			// One at a time, each acked before the next: every event is its
			// own batch, so without the cache each would be its own call.
			for i := range 50 {
				e.publish(e.sign(event("bot-7", "key_leaked", breach.SeverityHigh, time.Now())))
				waitFor(t, "ack", func() bool { return c.Stats().Acked == uint64(i+1) })
			}
			starts, signals, calls := st.snapshot()
			if s := c.Stats(); s.Closed != 50 || len(starts) != 0 || len(signals) != 0 {
				t.Fatalf("stats %+v starts %d signals %d", s, len(starts), len(signals))
			}
			if calls != tc.wantCalls {
				t.Fatalf("starter called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}
