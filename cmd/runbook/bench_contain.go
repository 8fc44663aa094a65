package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
)

const benchRunbook = "contain-key-breach"

// attackResult is what the attacker saw around one event.
type attackResult struct {
	refusedAt     time.Time // end of the first refused request
	refusal       xchg.Kind
	acceptedAfter int // accepted requests sent at or after the event
	requests      int
	err           error
}

// attack places orders with the leaked key from the attacker's IP, one
// after the other as fast as the exchange answers, until one is refused.
// started is closed after the first order was accepted (the key works).
func attack(ctx context.Context, tr xchg.Trader, eventAt func() time.Time, started chan<- struct{}) attackResult {
	var r attackResult
	first := true
	for ctx.Err() == nil {
		t := time.Now()
		_, err := tr.PlaceOrder(ctx, "BTC/USDT", "buy", 0.0001, 1000)
		end := time.Now()
		r.requests++
		if first {
			first = false
			if err != nil {
				r.err = fmt.Errorf("the leaked key does not work before the event: %w", err)
				close(started)
				return r
			}
			close(started)
			continue
		}
		if err != nil {
			r.refusedAt, r.refusal = end, xchg.KindOf(err)
			return r
		}
		if ev := eventAt(); !ev.IsZero() && !t.Before(ev) {
			r.acceptedAfter++
		}
	}
	r.err = ctx.Err()
	return r
}

// publishBreach signs and publishes a key_leaked event for one bot and
// returns the time just before the publish call.
func (e *benchEnv) publishBreach(ctx context.Context, b *fleetBot) (time.Time, error) {
	ev, err := breach.Sign(breach.New("runbook-bench", "key_leaked", breach.Data{Bot: b.ID, Exchange: benchExchange,
		KeyID: b.Key.ID, Severity: breach.Severity("high"), Source: "bench", Evidence: map[string]any{}}, time.Now()), e.stack.keyring, "dev")
	if err != nil {
		return time.Time{}, err
	}
	t0 := time.Now()
	_, err = ingest.Publish(ctx, e.stack.events.js, ev)
	return t0, err
}

// waitIncident blocks until the incident's workflow has ended.
func (e *benchEnv) waitIncident(ctx context.Context, id string) error {
	for {
		err := e.stack.client.GetWorkflow(ctx, id, "").Get(ctx, nil)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
				continue
			}
		}
		return err
	}
}

// firstCall returns the first successful call of op after t0.
func firstCall(sim *exchangesim.Sim, op string, t0 time.Time, done bool) (time.Duration, bool) {
	for _, c := range sim.Calls(exchangesim.CallFilter{Exchange: benchExchange, Op: op, OnlyOK: true}) {
		if c.At.After(t0) {
			d := c.At.Sub(t0)
			if done {
				d += c.Duration
			}
			return d, true
		}
	}
	return 0, false
}

// benchContain runs n incidents one after the other, each on its own bot
// and key, and returns the rows and the p50 of event → lockout call.
func benchContain(ctx context.Context, e *benchEnv, n int) ([]benchRow, time.Duration, error) {
	bots := e.groups["contain"]
	if len(bots) < n {
		n = len(bots)
	}
	sim := e.fleet.sim
	ex, err := xchg.Open(xchg.Config{Exchange: benchExchange, BaseURL: sim.DialectURL(benchExchange)})
	if err != nil {
		return nil, 0, err
	}
	tp, ok := ex.(xchg.TraderProvider)
	if !ok {
		return nil, 0, errors.New("the binance adapter cannot trade")
	}
	var refused, lockout, frozen, cancelled, full []time.Duration
	var acceptedAfter, reqs []int
	kinds := map[xchg.Kind]int{}
	for i := 0; i < n; i++ {
		b := bots[i]
		sim.ResetCalls()
		tr := tp.Trader(credOf(b.Key), benchAttacker)
		evCh := make(chan time.Time, 1)
		// eventAt is read by the attacker goroutine: hand it over safely.
		var seen time.Time
		get := func() time.Time {
			if seen.IsZero() {
				select {
				case seen = <-evCh:
				default:
				}
			}
			return seen
		}
		started := make(chan struct{})
		res := make(chan attackResult, 1)
		actx, cancel := context.WithTimeout(ctx, 60*time.Second)
		go func() { res <- attack(actx, tr, get, started) }()
		<-started
		t0, err := e.publishBreach(ctx, b)
		if err != nil {
			cancel()
			return nil, 0, err
		}
		evCh <- t0
		r := <-res
		cancel()
		if r.err != nil {
			return nil, 0, fmt.Errorf("incident %d (%s): attacker: %w", i+1, b.ID, r.err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
		err = e.waitIncident(wctx, ingest.IncidentID(benchRunbook, b.ID, b.Key.ID))
		wcancel()
		if err != nil {
			return nil, 0, fmt.Errorf("incident %d (%s): %w", i+1, b.ID, err)
		}
		d, err := e.closedAfter(ctx, ingest.IncidentID(benchRunbook, b.ID, b.Key.ID), t0)
		if err != nil {
			return nil, 0, err
		}
		full = append(full, d)
		refused = append(refused, r.refusedAt.Sub(t0))
		kinds[r.refusal]++
		acceptedAfter = append(acceptedAfter, r.acceptedAfter)
		reqs = append(reqs, r.requests)
		if d, ok := firstCall(sim, "set_ip_whitelist", t0, false); ok {
			lockout = append(lockout, d)
		}
		if d, ok := firstCall(sim, "cancel_all", t0, true); ok {
			cancelled = append(cancelled, d)
		}
		if f, _ := b.State.times(); !f.IsZero() {
			frozen = append(frozen, f.Sub(t0))
		}
		if e.showTimeline && i == n-1 {
			e.timeline(ctx, ingest.IncidentID(benchRunbook, b.ID, b.Key.ID), t0)
		}
		if (i+1)%50 == 0 {
			fmt.Fprintf(e.stack.opts.console, "contain: %d/%d\n", i+1, n)
		}
	}
	maxAcc := 0
	total := 0
	var window time.Duration
	for i, a := range acceptedAfter {
		maxAcc = max(maxAcc, a)
		total += a
		window += refused[i]
	}
	// The count after the event is the attacker's pace times the lockout
	// window: say the pace, so the count can be read for a slower one.
	pace := 0.0
	if window > 0 {
		pace = float64(total+len(acceptedAfter)) / window.Seconds()
	}
	rows := []benchRow{
		{what: "contain: event → attacker refused", how: "attacker PlaceOrder loop from 127.0.0.66 with the leaked key; first refused reply − publish", n: len(refused), samples: refused,
			extra: fmt.Sprintf("refusals by kind: %v", kinds)},
		{what: "contain: attacker orders accepted after the event", how: "orders sent at/after publish that the exchange accepted, per incident", n: len(acceptedAfter),
			extra: fmt.Sprintf("p50 %d, p90 %d, p99 %d, max %d, total %d; attacker pace %.0f orders/s", pctInts(acceptedAfter, 50), pctInts(acceptedAfter, 90), pctInts(acceptedAfter, 99), maxAcc, total, pace)},
		{what: "contain: event → lockout call at the exchange", how: "simulator call log: set_ip_whitelist arrival − publish", n: len(lockout), samples: lockout},
		{what: "contain: event → bot frozen", how: "bot's own clock when it confirmed the freeze − publish", n: len(frozen), samples: frozen},
		{what: "contain: event → orders cancelled", how: "simulator call log: cancel_all answered − publish", n: len(cancelled), samples: cancelled},
		{what: "contain: full contain-key-breach", how: "publish → workflow closed (11 steps, re-keyed, verified, unfrozen, SMS)", n: len(full), samples: full,
			extra: fmt.Sprintf("attacker sent %d orders/incident (p50)", pctInts(reqs, 50))},
	}
	return rows, pct(lockout, 50), nil
}

// benchFloor measures a bare workflow with one no-op activity started from
// a JetStream message on the same servers: publish → the activity runs.
// It runs plain and with eager start.
func benchFloor(ctx context.Context, e *benchEnv, n int, engineP50 time.Duration) ([]benchRow, error) {
	plain, err := e.floorRound(ctx, n, false)
	if err != nil {
		return nil, err
	}
	eager, err := e.floorRound(ctx, n, true)
	if err != nil {
		return nil, err
	}
	ratio := ""
	if p := pct(plain, 50); p > 0 && engineP50 > 0 {
		ratio = fmt.Sprintf("engine lockout p50 / plain floor p50 = %.1f×", float64(engineP50)/float64(p))
	}
	return []benchRow{
		{what: "floor: event → no-op activity running", how: "JetStream msg → consumer → ExecuteWorkflow → 1 no-op activity; same Temporal/NATS", n: len(plain), samples: plain, extra: ratio},
		{what: "floor: same, eager workflow start", how: "as above with StartWorkflowOptions.EnableEagerStart (worker and starter share the client)", n: len(eager), samples: eager},
	}, nil
}

func (e *benchEnv) floorRound(ctx context.Context, n int, eager bool) ([]time.Duration, error) {
	js := e.stack.events.js
	name := "BENCHFLOOR"
	// A file-backed stream and a durable pull consumer, like BREACH and
	// the trigger consumer.
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"benchfloor.>"},
		Storage: jetstream.FileStorage, MaxAge: time.Hour}); err != nil {
		return nil, err
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, name, jetstream.ConsumerConfig{Durable: "bench-floor",
		AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return nil, err
	}
	tag := "plain"
	if eager {
		tag = "eager"
	}
	tq := e.stack.opts.taskQueue
	cc, err := cons.Consume(func(m jetstream.Msg) {
		id := string(m.Data())
		_, err := e.stack.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: tq, EnableEagerStart: eager},
			benchFloorWorkflow, id)
		if err != nil {
			_ = m.Nak()
			return
		}
		_ = m.Ack()
	})
	if err != nil {
		return nil, err
	}
	defer cc.Stop()
	var out []time.Duration
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("bench-floor-%s-%d-%d", tag, time.Now().UnixNano(), i)
		ch := e.hooks.expect(id)
		t0 := time.Now()
		if _, err := js.Publish(ctx, "benchfloor."+tag, []byte(id)); err != nil {
			return nil, err
		}
		select {
		case t1 := <-ch:
			out = append(out, t1.Sub(t0))
		case <-time.After(30 * time.Second):
			return out, fmt.Errorf("floor workflow %s: the no-op activity did not run within 30s", id)
		}
	}
	return out, nil
}

// timeline prints the incident's history events with their times after the
// event was published: where the time to contain goes, event by event.
func (e *benchEnv) timeline(ctx context.Context, id string, t0 time.Time) {
	it := e.stack.client.GetWorkflowHistory(ctx, id, "", false, 0)
	fmt.Fprintf(e.out, "timeline of %s (time after publish):\n", id)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			fmt.Fprintf(e.out, "  history: %v\n", err)
			return
		}
		what := ""
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			what = a.GetActivityId()
		}
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil {
			what = m.GetMarkerName()
		}
		fmt.Fprintf(e.out, "  %9s  #%-3d %s %s\n", fmtDur(ev.GetEventTime().AsTime().Sub(t0)), ev.GetEventId(), ev.GetEventType(), what)
	}
	fmt.Fprintf(e.out, "exchange calls by the engine (time after publish, duration):\n")
	for _, c := range e.fleet.sim.Calls(exchangesim.CallFilter{Exchange: benchExchange}) {
		if c.ClientIP == benchAttacker || c.At.Before(t0) {
			continue
		}
		fmt.Fprintf(e.out, "  %9s  %-8s %-18s %s %d\n", fmtDur(c.At.Sub(t0)), fmtDur(c.Duration), c.Op, c.ClientIP, c.Status)
	}
}

// closedAfter is how long after t0 the workflow closed, by the server's
// close time: a client's Get learns of the close through a long poll that
// here answers a few hundred milliseconds late, which would be measured
// as the workflow's own time.
func (e *benchEnv) closedAfter(ctx context.Context, id string, t0 time.Time) (time.Duration, error) {
	d, err := e.stack.client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return 0, err
	}
	ct := d.GetWorkflowExecutionInfo().GetCloseTime()
	if ct == nil {
		return 0, fmt.Errorf("%s: no close time", id)
	}
	return ct.AsTime().Sub(t0), nil
}
