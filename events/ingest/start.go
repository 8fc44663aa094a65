package ingest

import (
	"context"
	"fmt"
	"sync"

	"github.com/keyresponse/runbook/events/breach"
)

// startStage makes one Starter call per group, up to StartConcurrency at
// once. A failed call fails only its own group's items (they are naked
// and retried; the other incidents' events are acked).
//
// Calls run concurrently only where order cannot matter: a group waits
// for the earlier groups (in stream order) that hold events of the same
// bot, so one bot's incidents (several runbooks, or a dedup split) are
// started or signalled in stream order. With a Limiter, groups whose
// incident id the Starter has not answered for yet in this process (the
// only ones that can start a new incident) also wait for each other in
// stream order, each check-start-record one step, so the cap is neither
// overshot by concurrent starts nor applied out of order; answered ids
// signal running incidents and skip the limiter.
func (c *Consumer) startStage(ctx context.Context, groups []*group) {
	var run []*group
	for _, g := range groups {
		if c.closed.has(g.id) {
			// Temporal said moments ago that this incident ended.
			c.stats.add(func(s *Stats) { s.Closed += uint64(len(g.items)) })
			continue
		}
		run = append(run, g)
	}
	if len(run) == 1 {
		// A lone incident pays no goroutine hand-off.
		c.startSafely(ctx, run[0], c.cfg.Limiter != nil && !c.answered.has(run[0].id))
		return
	}
	done := make([]chan struct{}, len(run))
	lastOfBot := map[string]int{}
	lastLimited := -1
	sem := make(chan struct{}, c.cfg.StartConcurrency)
	var wg sync.WaitGroup
	for i, g := range run {
		done[i] = make(chan struct{})
		// Earlier groups this one waits for. They took their semaphore
		// slot before this one, so waiting while holding a slot cannot
		// deadlock.
		var deps []chan struct{}
		for _, bot := range g.bots() {
			if j, ok := lastOfBot[bot]; ok {
				deps = append(deps, done[j])
			}
			lastOfBot[bot] = i
		}
		limited := c.cfg.Limiter != nil && !c.answered.has(g.id)
		if limited {
			if lastLimited >= 0 {
				deps = append(deps, done[lastLimited])
			}
			lastLimited = i
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer close(done[i])
			for _, d := range deps {
				<-d
			}
			c.startSafely(ctx, g, limited)
		}()
	}
	wg.Wait()
}

// startSafely runs start, turning an error or a panic (a Starter bug) into
// a retry of the group's messages.
func (c *Consumer) startSafely(ctx context.Context, g *group, limited bool) {
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic in starter: %v", p)
			}
		}()
		return c.start(ctx, g, limited)
	}()
	if err != nil {
		c.log.Warn("start failed", "incident", g.id, "events", len(g.items), "err", err)
		for _, it := range g.items {
			it.fail(err)
		}
	}
}

// start calls the Starter once for the group; limited applies the
// blast-radius limit first (see startStage).
func (c *Consumer) start(ctx context.Context, g *group, limited bool) error {
	req := g.request()
	if limited {
		hold, reason, err := c.limit(ctx, g, req.Exchange)
		if err != nil {
			return fmt.Errorf("blast-radius limiter: %w", err)
		}
		req.HoldIrreversible, req.HoldIrreversibleReason = hold, reason
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.AckWait*2/3)
	defer cancel()
	res, err := c.cfg.Starter.StartOrSignal(sctx, req)
	c.stats.add(func(s *Stats) { s.StarterCalls++ })
	if err != nil {
		return err
	}
	n := uint64(len(g.items))
	c.known.add(g.id)
	c.answered.add(g.id)
	switch {
	case res.Closed:
		c.closed.add(g.id)
		c.stats.add(func(s *Stats) { s.Closed += n })
		c.log.Info("event for an incident that already ended: nothing started", "incident", g.id, "runbook", g.rb.Runbook.Name, "events", n)
	case res.Started:
		if c.cfg.Limiter != nil {
			// A fleet counts as the bots' incidents it will start.
			ids := []string{g.id}
			if g.fleet != nil {
				ids = g.fleet.handed
			}
			for _, id := range ids {
				if err := c.cfg.Limiter.Record(ctx, id, req.Exchange); err != nil {
					// The incident runs; only the count is off. Say so.
					c.log.Error("blast-radius limiter did not record a start", "incident", id, "err", err)
				}
			}
		}
		c.stats.add(func(s *Stats) {
			s.Started++
			s.Signalled += n - 1 // the rest of the batch rides along as evidence
			if req.HoldIrreversible {
				s.Held++
			}
		})
		c.log.Info("incident started", "incident", g.id, "runbook", g.rb.Runbook.Name, "events", n, "hold_irreversible", req.HoldIrreversible)
	default:
		c.stats.add(func(s *Stats) { s.Signalled += n })
		c.log.Debug("evidence signalled", "incident", g.id, "events", n)
	}
	if g.fleet != nil {
		// Later events for these bots take the per-bot path: they signal
		// into the incidents the fleet starts, or start them first (ids
		// are deterministic, starts idempotent).
		for _, id := range g.fleet.handed {
			c.known.add(id)
		}
		c.stats.add(func(s *Stats) {
			if res.Started {
				s.FleetStarted++
			}
			s.FleetBots += uint64(len(g.fleet.handed))
		})
	}
	return nil
}

// limit applies the blast-radius cap to one start. A fleet start is judged
// as the number of bots it hands over; an account-wide event (every bot of
// an exchange account, a number the consumer cannot know) always waits for
// one approval before anything irreversible while a cap is set.
func (c *Consumer) limit(ctx context.Context, g *group, exchange string) (bool, string, error) {
	if breach.AccountWide(g.items[0].ev.Kind()) {
		return true, "account-wide breach: every key of the account may be revoked; irreversible steps wait for on-call approve (blast-radius cap is set)", nil
	}
	if g.fleet != nil {
		if fl, ok := c.cfg.Limiter.(FleetLimiter); ok {
			return fl.CheckN(ctx, exchange, len(g.fleet.handed))
		}
	}
	return c.cfg.Limiter.Check(ctx, exchange)
}
