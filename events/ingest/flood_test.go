package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// forgedBody is a well-formed event whose body signature was made with a
// key the engine does not have: what an attacker without the keys sends.
func forgedBody(t testing.TB, bot string, i int, now time.Time) []byte {
	t.Helper()
	ev := event(bot, "key_leaked", breach.SeverityHigh, now)
	ev.Data.Evidence = map[string]any{"n": i}
	ev, err := breach.Sign(ev, breach.Keyring{"k1": []byte("attacker-guessed-key-0123456789ab")}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	return mustJSON(t, ev)
}

// queueFlood stores n forged events on the lane's subjects, spread over
// 100 bots, without waiting for each ack.
func (e *env) queueFlood(publisher string, n int) {
	e.t.Helper()
	now := time.Now()
	for i := range n {
		bot := fmt.Sprintf("flood-%d", i%100)
		subj := LaneSubjects(publisher)
		subj = subj[:len(subj)-1] + bot + ".key_leaked"
		if _, err := e.js.PublishAsync(subj, forgedBody(e.t, bot, i, now)); err != nil {
			e.t.Fatal(err)
		}
		if i%5000 == 4999 {
			<-e.js.PublishAsyncComplete()
		}
	}
	<-e.js.PublishAsyncComplete()
}

// orderStarter notes how many flood messages the consumer had acked when
// the genuine incident was started.
type orderStarter struct {
	fakeStarter
	c            func() *Consumer
	mu           sync.Mutex
	ackedAtStart uint64
	startedAt    bool
}

func (s *orderStarter) StartOrSignal(ctx context.Context, r StartRequest) (StartResult, error) {
	res, err := s.fakeStarter.StartOrSignal(ctx, r)
	s.mu.Lock()
	if !s.startedAt {
		s.startedAt = true
		s.ackedAtStart = s.c().Stats().Acked
	}
	s.mu.Unlock()
	return res, err
}

// Given 20,000 forged events queued in the "flooder" lane and then one
// genuine signed breach in the "monitor" lane, when the consumer starts,
// then the genuine breach is started while most of the flood is still
// queued (lanes are taken round-robin), and every forged event ends up in
// the DLQ: whole up to the per-second budget, the rest in summaries whose
// sequence ranges cover exactly the others. Nothing is lost.
func TestGenuineBreachIsStartedAheadOfAQueuedFloodInAnotherLane(t *testing.T) {
	e := newEnv(t)
	lanes := []Lane{{Publisher: "flooder"}, {Publisher: "monitor"}}
	if err := EnsureLaneStreams(context.Background(), e.js, lanes); err != nil {
		t.Fatal(err)
	}
	const flood = 20000
	e.queueFlood("flooder", flood)
	genuine := e.sign(event("bot-1", "key_leaked", breach.SeverityHigh, time.Now()))
	body := mustJSON(t, genuine)
	if _, err := e.js.Publish(context.Background(), LanePrefix+"monitor."+genuine.NATSSubject(), body); err != nil {
		t.Fatal(err)
	}

	var c *Consumer
	st := &orderStarter{c: func() *Consumer { return c }}
	var alertMu sync.Mutex
	var alerts []FloodAlert
	c, _ = e.runConsumer(st, func(cfg *Config) {
		cfg.Lanes = lanes
		cfg.BatchSize = 256
		cfg.Flood.OnFlood = func(a FloodAlert) { alertMu.Lock(); alerts = append(alerts, a); alertMu.Unlock() }
	})
	waitFor(t, "flood dead-lettered", func() bool { return c.Stats().DeadLetteredTotal() >= flood })

	starts, _, _ := st.snapshot()
	if len(starts) != 1 || starts[0].Evidence.EventID != genuine.ID {
		t.Fatalf("starts = %+v, want exactly the genuine event", starts)
	}
	st.mu.Lock()
	acked := st.ackedAtStart
	st.mu.Unlock()
	if acked > flood/2 {
		t.Errorf("the genuine breach was started after %d of %d flood events had been handled; a lane must not wait for another lane's backlog", acked, flood)
	}
	s := c.Stats()
	if got := s.DeadLettered[breach.ReasonBadSignature]; got != flood {
		t.Errorf("bad_signature dead letters = %d, want %d (stats %+v)", got, flood, s)
	}
	if s.Summarised == 0 || s.DLQSummaries == 0 {
		t.Errorf("a 20,000-event flood was written whole (summarised %d, summaries %d): the budget did not apply", s.Summarised, s.DLQSummaries)
	}

	// The flood was noticed once, for the flooding publisher only.
	waitFor(t, "flood alert", func() bool { alertMu.Lock(); defer alertMu.Unlock(); return len(alerts) > 0 })
	alertMu.Lock()
	if len(alerts) != 1 || alerts[0].Publisher != "flooder" || alerts[0].Reasons[breach.ReasonBadSignature] == 0 {
		t.Errorf("flood alerts = %+v, want one for publisher flooder naming bad_signature", alerts)
	} else if txt := alerts[0].Text(); !strings.Contains(txt, "breach stream flooded") || !strings.Contains(txt, "publisher flooder") {
		t.Errorf("alert text %q", txt)
	}
	alertMu.Unlock()

	// Every forged sequence is in the DLQ exactly once: whole, or in a
	// summary's ranges.
	covered := map[uint64]int{}
	whole, summarised := 0, 0
	for _, m := range e.dlq() {
		if m.Header.Get(HeaderDlqSummary) == "true" {
			var sum DLQSummary
			if err := json.Unmarshal(m.Data, &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Publisher != "flooder" || sum.Stream != LaneStream("flooder") || sum.Reason != string(breach.ReasonBadSignature) {
				t.Fatalf("summary %+v", sum)
			}
			n := 0
			for _, r := range sum.Seqs {
				for q := r[0]; q <= r[1]; q++ {
					covered[q]++
					n++
				}
			}
			if n != sum.Count {
				t.Fatalf("summary counts %d but its ranges hold %d", sum.Count, n)
			}
			summarised += n
			continue
		}
		if m.Header.Get(HeaderDlqPublisher) != "flooder" || m.Header.Get(HeaderDlqStream) != LaneStream("flooder") {
			t.Fatalf("whole dead letter headers %v", m.Header)
		}
		if m.Subject[:len(DLQPrefix+"breach.")] != DLQPrefix+"breach." {
			t.Fatalf("whole dead letter on %s, want dlq.<the publisher's breach subject>", m.Subject)
		}
		var q uint64
		fmt.Sscan(m.Header.Get(HeaderDlqSeq), &q)
		covered[q]++
		whole++
	}
	if whole+summarised != flood || len(covered) != flood {
		t.Fatalf("DLQ holds %d whole + %d summarised over %d distinct sequences, want %d once each", whole, summarised, len(covered), flood)
	}
	for q, n := range covered {
		if n != 1 || q < 1 || q > flood {
			t.Fatalf("sequence %d covered %d times", q, n)
		}
	}
}

// BenchmarkFloodReject is the consumer rejecting a queued flood of forged
// events (well-formed, signed with a wrong key) through a real embedded
// JetStream: consumer start → last dead letter acked. Reports events/s
// and CPU-µs per event (consumer and server in one process). -benchtime=1x.
func BenchmarkFloodReject(b *testing.B) {
	const n = 100000
	for b.Loop() {
		b.StopTimer()
		e := newEnv(b)
		lanes := []Lane{{Publisher: "flooder", Rate: -1}}
		if err := EnsureLaneStreams(context.Background(), e.js, lanes); err != nil {
			b.Fatal(err)
		}
		e.queueFlood("flooder", n)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		c, stop := e.runConsumer(&nopStarter{}, func(cfg *Config) { cfg.Lanes = lanes })
		waitFor(b, "all rejected", func() bool { return c.Stats().Acked >= n })
		elapsed, cpu := time.Since(start), cpuTime()-cpu0
		b.StopTimer()
		stop()
		b.ReportMetric(n/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/event")
		b.StartTimer()
	}
}
