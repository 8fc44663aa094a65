package ingest

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// BenchmarkIngest measures publish → decode → verify (KV replay claim) →
// match → fake start/signal → ack through an embedded nats-server, with
// the consumer running while the storm over 20 bots is published.
// Reports events/s; ns/op is per event.
func BenchmarkIngest(b *testing.B) {
	e := newEnv(b)
	st := &fakeStarter{}
	c, stop := e.runConsumer(st)
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
}

// nopStarter starts every incident id once and signals afterwards, with no
// bookkeeping beyond that: the consumer alone is measured.
type nopStarter struct {
	latency time.Duration
	mu      sync.Mutex
	running map[string]bool
	calls   int
}

func (s *nopStarter) StartOrSignal(_ context.Context, r StartRequest) (StartResult, error) {
	time.Sleep(s.latency)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.running == nil {
		s.running = map[string]bool{}
	}
	if s.running[r.IncidentID] {
		return StartResult{IncidentID: r.IncidentID}, nil
	}
	s.running[r.IncidentID] = true
	return StartResult{IncidentID: r.IncidentID, Started: true}, nil
}

// BenchmarkStorm is the alert storm of issue 8: stormEvents signed events
// (each a fresh id, so each costs a KV replay claim) over 100 bots, already
// in the BREACH stream when the consumer starts, through a real embedded
// JetStream and KV replay guard, with a no-op Starter that answers at once
// or after a simulated Temporal round trip. Reports events/s from consumer
// start to the last ack; ns/op is per storm. Run with -benchtime=1x. STORM_CPUPROFILE=file writes a CPU profile of the consume
// phase alone (-cpuprofile also covers signing and publishing the storm).
func BenchmarkStorm(b *testing.B) {
	// latency stands in for Temporal's SignalWithStart round trip.
	for _, latency := range []time.Duration{0, 2 * time.Millisecond} {
		b.Run("starter="+latency.String(), func(b *testing.B) { benchStorm(b, latency) })
	}
}

func benchStorm(b *testing.B, latency time.Duration) {
	const stormEvents, bots = 50000, 100
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		now := time.Now()
		for i := range stormEvents {
			ev := e.sign(event(fmt.Sprintf("bot-%d", i%bots), "key_leaked", breach.SeverityHigh, now))
			if _, err := e.js.PublishAsync(ev.NATSSubject(), mustJSON(b, ev)); err != nil {
				b.Fatal(err)
			}
		}
		<-e.js.PublishAsyncComplete()
		st := &nopStarter{latency: latency}
		stopProfile := profileStorm(b)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		c, stop := e.runConsumer(st, func(c *Config) {
			c.BatchSize = envInt("STORM_BATCH", 0)
			c.StartConcurrency = envInt("STORM_STARTS", 0)
		})
		waitFor(b, "all acked", func() bool { return c.Stats().Acked >= stormEvents })
		elapsed, cpu := time.Since(start), cpuTime()-cpu0
		b.StopTimer()
		stopProfile()
		stop()
		s := c.Stats()
		if s.Started != bots || s.DeadLetteredTotal() != 0 {
			b.Fatalf("stats %+v", s)
		}
		b.ReportMetric(stormEvents/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(st.calls)/stormEvents, "calls/event")
		// CPU per event (consumer and embedded server together) does not
		// depend on what else the machine runs; events/s does.
		b.ReportMetric(float64(cpu.Microseconds())/stormEvents, "cpu-µs/event")
		b.StartTimer()
	}
}

func profileStorm(b *testing.B) func() {
	path := os.Getenv("STORM_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// envInt reads a tuning knob for the storm benchmark; 0 means the default.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}
