package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/metrics"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
)

// The flood benchmark's publishers: the genuine monitor (whose lane also
// carries the noisy signed duplicates) and a flooder without the event
// keys. Their lanes are the production shape: each its own NATS account
// and stream.
const (
	benchMonitor = "monitor"
	benchFlooder = "flooder"
)

// benchFloodLanes are the lanes a bench stack runs with: the flooder's
// stream must hold both floods (its default cap would refuse most of a
// million events at publish: the per-publisher limit doing its job, but
// then nothing is queued to measure).
func benchFloodLanes(floodEvents, dups int) []ingest.Lane {
	return []ingest.Lane{
		{Publisher: benchMonitor, MaxMsgs: int64(max(dups, 100_000)) + 10_000, MaxBytes: 4 << 30, Rate: -1},
		{Publisher: benchFlooder, MaxMsgs: 2*int64(floodEvents) + 10_000, MaxBytes: 8 << 30, Rate: -1},
	}
}

// floodKind is one kind of flood: how its events are made and which lane
// they go to.
type floodKind struct {
	name, how string
	lane      string
	n         int
	make      func(i int, now time.Time) (*nats.Msg, error)
}

// benchFlood measures, in one run: the genuine breach's event → lockout
// with nothing queued, then behind each kind of flood (queued first, the
// genuine events published while it is worked off), the rate each flood is
// worked off at, and the process's memory through it all.
func benchFlood(ctx context.Context, e *benchEnv, floodN, dupN, samples int) ([]benchRow, error) {
	bots := e.groups["flood"]
	if len(bots) < 4*samples {
		return nil, fmt.Errorf("flood: %d bots seeded, want %d", len(bots), 4*samples)
	}
	mon, err := e.publisherJS(benchMonitor)
	if err != nil {
		return nil, err
	}
	fl, err := e.publisherJS(benchFlooder)
	if err != nil {
		return nil, err
	}
	stopMem, peakMem := sampleMemory()
	defer stopMem()
	cons := e.stack.events.consumer
	wrongKey := breach.Keyring{"dev": []byte("attacker-guessed-key-0123456789ab")}
	kinds := []floodKind{
		{name: "forged", how: "header-signed with a key the engine does not have", lane: benchFlooder, n: floodN, make: func(i int, now time.Time) (*nats.Msg, error) {
			m, body := floodEvent(fmt.Sprintf("flood-%d", i%100), i, now)
			h, err := breach.SignHeader(body, wrongKey, "dev")
			m.Header.Set(breach.HeaderSignature, h)
			return m, err
		}},
		{name: "unsigned", how: "no signature at all", lane: benchFlooder, n: floodN, make: func(i int, now time.Time) (*nats.Msg, error) {
			m, _ := floodEvent(fmt.Sprintf("flood-%d", i%100), i, now)
			return m, nil
		}},
		{name: "signed duplicates", how: "validly signed, 100 bots the engine does not know, in the genuine monitor's own lane", lane: benchMonitor, n: dupN, make: func(i int, now time.Time) (*nats.Msg, error) {
			m, body := floodEvent(fmt.Sprintf("noisy-%d", i%100), i, now)
			h, err := breach.SignHeader(body, e.stack.keyring, "dev")
			m.Header.Set(breach.HeaderSignature, h)
			return m, err
		}},
	}
	// The baseline: nothing queued.
	base, err := e.genuineLockouts(ctx, mon, bots[:samples], nil)
	if err != nil {
		return nil, err
	}
	basePct := pct(base, 99)
	rows := []benchRow{{what: "flood: no flood, event → lockout", how: "genuine signed key_leaked from the monitor's lane; simulator set_ip_whitelist − publish", n: len(base), samples: base}}
	for k, fk := range kinds {
		js := fl
		if fk.lane == benchMonitor {
			js = mon
		}
		msgs := make([]*nats.Msg, fk.n)
		now := time.Now()
		for i := range msgs {
			if msgs[i], err = fk.make(i, now); err != nil {
				return rows, err
			}
		}
		before := cons.Stats()
		t0 := time.Now()
		if err := publishAll(js, msgs, 10*time.Minute); err != nil {
			return rows, fmt.Errorf("flood %s: %w", fk.name, err)
		}
		msgs = nil
		pubDur := time.Since(t0)
		// Every event ends acked: dead-lettered, started or signalled.
		handled := func() uint64 { return cons.Stats().Acked - before.Acked }
		queuedAt := int(uint64(fk.n) - min(uint64(fk.n), handled()))
		var stillQueued []int
		lock, err := e.genuineLockouts(ctx, mon, bots[(k+1)*samples:(k+2)*samples], func() {
			stillQueued = append(stillQueued, fk.n-int(min(uint64(fk.n), handled())))
		})
		if err != nil {
			return rows, err
		}
		if err := waitHandled(ctx, handled, uint64(fk.n+samples), 10*time.Minute); err != nil {
			return rows, fmt.Errorf("flood %s: %w", fk.name, err)
		}
		drain := time.Since(t0)
		after := cons.Stats()
		p99 := pct(lock, 99)
		rows = append(rows,
			benchRow{what: fmt.Sprintf("flood: behind %d %s, event → lockout", fk.n, fk.name), how: fk.how + "; queued, then the genuine events", n: len(lock), samples: lock,
				extra: fmt.Sprintf("p99 %.1f× the no-flood p99; %d still queued when the first genuine event was published (%d after the flood's publish), p50 %d queued at each", float64(p99)/float64(max(basePct, 1)), firstOr(stillQueued), queuedAt, pctInts(stillQueued, 50))},
			benchRow{what: fmt.Sprintf("flood: %d %s worked off", fk.n, fk.name), how: "first flood publish → every flood event acked (dead-lettered, or evidence)", n: fk.n,
				extra: fmt.Sprintf("%.0f events/s (publish alone %.0f/s); dead-lettered %d (%d in %d summaries), %d started, flood alerts %d",
					float64(fk.n)/drain.Seconds(), float64(fk.n)/pubDur.Seconds(), after.DeadLetteredTotal()-before.DeadLetteredTotal(),
					after.Summarised-before.Summarised, after.DLQSummaries-before.DLQSummaries, after.Started-before.Started, after.Floods-before.Floods)},
		)
	}
	heap, rss := peakMem()
	rows = append(rows, benchRow{what: "flood: memory", how: "whole bench process (engine, Temporal, NATS, load): peak Go memory sampled every 100 ms; peak RSS (getrusage)", n: 0,
		extra: fmt.Sprintf("peak Go memory %d MiB, peak RSS %d MiB", heap>>20, rss>>20)})
	return rows, nil
}

func firstOr(v []int) int {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// floodEvent is a well-formed key_leaked event for bot as its message
// (no signature yet) and body.
func floodEvent(bot string, i int, now time.Time) (*nats.Msg, []byte) {
	ev := breach.New("/flood", "key_leaked", breach.Data{Bot: bot, Exchange: benchExchange, KeyID: "AK-" + bot, Severity: breach.SeverityHigh,
		Source: "bench-flood", Evidence: map[string]any{"n": i}}, now)
	body, _ := json.Marshal(ev)
	m := nats.NewMsg(ev.NATSSubject())
	m.Data = body
	return m, body
}

// genuineLockouts publishes one genuine signed key_leaked event per bot
// from the monitor's lane, one after the other, each after the previous
// bot's lockout, and returns event → lockout for each. before runs just
// before each publish.
func (e *benchEnv) genuineLockouts(ctx context.Context, mon jetstream.JetStream, bots []*fleetBot, before func()) ([]time.Duration, error) {
	var out []time.Duration
	for _, b := range bots {
		ev, err := breach.Sign(breach.New("runbook-bench", "key_leaked", breach.Data{Bot: b.ID, Exchange: benchExchange,
			KeyID: b.Key.ID, Severity: breach.Severity("high"), Source: "bench", Evidence: map[string]any{}}, time.Now()), e.stack.keyring, "dev")
		if err != nil {
			return out, err
		}
		if before != nil {
			before()
		}
		t0 := time.Now()
		if _, err := ingest.PublishAs(ctx, mon, ev, benchMonitor); err != nil {
			return out, err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if d, ok := firstCall(e.stack.exchange.sim, "set_ip_whitelist", t0, false); ok {
				out = append(out, d)
				break
			}
			if time.Now().After(deadline) {
				return out, fmt.Errorf("bot %s: no lockout within 2 minutes", b.ID)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return out, nil
}

// publisherJS connects as a lane publisher of the bench stack.
func (e *benchEnv) publisherJS(name string) (jetstream.JetStream, error) {
	opt, err := nats.NkeyOptionFromSeed(natsauth.PublisherSeedFile(devNATSUsersDir(e.stack.opts.home), name))
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(e.stack.nats.URL(), opt)
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, nc.Close)
	return jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
}

func waitHandled(ctx context.Context, handled func() uint64, want uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last, lastAt := uint64(0), time.Now()
	for {
		h := handled()
		if h >= want {
			return nil
		}
		if h != last {
			last, lastAt = h, time.Now()
		}
		if time.Since(lastAt) > time.Minute || time.Now().After(deadline) {
			return fmt.Errorf("consumer stalled at %d/%d", h, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sampleMemory samples the Go runtime's total mapped memory every 100 ms;
// peak returns its maximum and the process's peak RSS.
func sampleMemory() (stop func(), peak func() (heap, rss uint64)) {
	var maxTotal atomic.Uint64
	done := make(chan struct{})
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > maxTotal.Load() {
				maxTotal.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }, func() (uint64, uint64) {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return maxTotal.Load(), uint64(ru.Maxrss) * 1024
	}
}
