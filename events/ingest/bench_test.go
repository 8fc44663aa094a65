package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// BenchmarkIngest measures publish → decode → verify (KV replay claim) →
// match → fake start/signal → double ack through an embedded nats-server,
// for a storm of events over 20 bots. Reports events/s; ns/op is per event.
func BenchmarkIngest(b *testing.B) {
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			e := newEnv(b)
			st := &fakeStarter{}
			c, stop := e.runConsumer(st, func(c *Config) { c.Workers = workers })
			defer stop()
			evs := make([]breach.Event, b.N)
			now := time.Now()
			for i := range evs {
				evs[i] = e.sign(event(fmt.Sprintf("bot-%d", i%20), "key_leaked", breach.SeverityHigh, now))
			}
			b.ResetTimer()
			start := time.Now()
			for _, ev := range evs {
				if _, err := e.js.PublishAsync(ev.NATSSubject(), mustJSON(e.t, ev)); err != nil {
					b.Fatal(err)
				}
			}
			<-e.js.PublishAsyncComplete()
			waitFor(b, "all acked", func() bool { return c.Stats().Acked >= uint64(b.N) })
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			if s := c.Stats(); s.Started != uint64(min(b.N, 20)) {
				b.Fatalf("started %d", s.Started)
			}
		})
	}
}
