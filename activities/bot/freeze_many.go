package bot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/keyresponse/runbook/activities"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/runbooks"
)

// Fan-out bounds of bot.freeze_many: enough in flight to freeze 1,000
// bots in about a second, few enough not to exhaust the worker's sockets.
const (
	DefaultFreezeConcurrency = 64
	MaxFreezeConcurrency     = 256
)

// ErrFleetPartial is the error type of a fleet action that did some of its
// bots and not others; the message lists the failures.
const ErrFleetPartial = "FleetPartial"

// FreezeManyParams are bot.freeze_many's params.
type FreezeManyParams struct {
	Bots        []string `json:"bots"`
	ForceExit   bool     `json:"force_exit"`
	Concurrency int      `json:"concurrency"`
}

// Validate checks the params.
func (p *FreezeManyParams) Validate() error {
	for i, b := range p.Bots {
		if b == "" {
			return fmt.Errorf("bots[%d] is empty", i)
		}
	}
	if p.Concurrency < 1 || p.Concurrency > MaxFreezeConcurrency {
		return fmt.Errorf("concurrency is %d; want 1 to %d", p.Concurrency, MaxFreezeConcurrency)
	}
	return nil
}

// FreezeManySpec declares bot.freeze_many.
var FreezeManySpec = runbooks.ActionSpec{
	Name: "bot.freeze_many",
	Description: "Freeze many bots at once through the same controllers as bot.freeze (each freeze verified: the bot " +
		"must report stopped), at most `concurrency` at a time. Progress is heartbeated; a retry skips the bots an " +
		"earlier attempt froze. Fails (retryably unless every failure is permanent) when any bot was not frozen, " +
		"naming them. Idempotent: frozen bots stay frozen.",
	Params: []runbooks.ParamSpec{
		{Name: "bots", Type: runbooks.ParamList, Required: true, Description: "bot ids, e.g. bot.select's bot_ids"},
		{Name: "force_exit", Type: runbooks.ParamBool, Default: false, Description: "close open positions at market before stopping"},
		{Name: "concurrency", Type: runbooks.ParamInt, Default: DefaultFreezeConcurrency,
			Description: fmt.Sprintf("bots frozen at the same time (1 to %d)", MaxFreezeConcurrency)},
	},
	// failed: [{bot, error}], empty when the action succeeds.
	Outputs: []string{"frozen", "failed"},
	// Like bot.freeze; undone bot by bot (bot.unfreeze), so no declared
	// compensation: the per-bot incidents unfreeze after re-keying.
	SideEffect: runbooks.Reversible,
	Needs:      []string{"bot.control"},
	Example:    "- id: freeze_all\n  action: bot.freeze_many\n  with: {bots: \"${{ steps.select.outputs.bot_ids }}\", concurrency: 64}",
}

// FreezeProgress is bot.freeze_many's heartbeat detail: the bots verified
// frozen so far, which a retried attempt does not freeze again.
type FreezeProgress struct {
	Frozen []string `json:"frozen"`
}

// heartbeatEvery bounds how often progress is encoded for a heartbeat;
// the SDK throttles what reaches the server further (to its heartbeat
// throttle interval, 30 s when the step sets no heartbeat timeout).
const heartbeatEvery = 200 * time.Millisecond

type freezeFailure struct {
	bot string
	err error
}

func freezeMany(d Deps) activities.Action {
	return activities.Typed(FreezeManySpec, func(ctx context.Context, req runbooks.ActionRequest, p FreezeManyParams) (runbooks.ActionResult, error) {
		done := map[string]bool{}
		for _, b := range previousProgress(ctx).Frozen {
			done[b] = true
		}
		var todo []string
		seen := map[string]bool{}
		for _, b := range p.Bots {
			if seen[b] {
				continue
			}
			seen[b] = true
			if !done[b] {
				todo = append(todo, b)
			}
		}
		skipped := len(seen) - len(todo)
		hb := newProgress(ctx, done)
		failures := freezeAll(ibot.WithIncident(ctx, req.IncidentID), d, todo, p, hb)
		frozen := hb.count()
		if len(failures) == 0 {
			return runbooks.ActionResult{
				Outputs: map[string]any{"frozen": frozen, "failed": []any{}},
				Summary: fmt.Sprintf("froze %d bots (%d already frozen by an earlier attempt)", frozen, skipped),
			}, nil
		}
		hb.flush()
		return runbooks.ActionResult{}, partialError(frozen, len(seen), failures)
	})
}

// freezeAll freezes the bots with at most p.Concurrency in flight and
// returns the failures sorted by bot.
func freezeAll(ctx context.Context, d Deps, bots []string, p FreezeManyParams, hb *progress) []freezeFailure {
	var (
		mu       sync.Mutex
		failures []freezeFailure
		wg       sync.WaitGroup
	)
	next := make(chan string)
	for w := 0; w < min(p.Concurrency, len(bots)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				err := freezeOne(ctx, d, id, p.ForceExit)
				if err == nil {
					hb.add(id)
					continue
				}
				mu.Lock()
				failures = append(failures, freezeFailure{bot: id, err: err})
				mu.Unlock()
			}
		}()
	}
	for _, id := range bots {
		if ctx.Err() != nil {
			// Cancelled or timed out: what is left is reported as failed
			// and the next attempt picks it up.
			mu.Lock()
			failures = append(failures, freezeFailure{bot: id, err: activities.Retryable(activities.ErrNetwork, ctx.Err())})
			mu.Unlock()
			continue
		}
		next <- id
	}
	close(next)
	wg.Wait()
	sort.Slice(failures, func(i, j int) bool { return failures[i].bot < failures[j].bot })
	return failures
}

// freezeOne is bot.freeze for one bot, with the same error mapping.
func freezeOne(ctx context.Context, d Deps, id string, forceExit bool) error {
	c, err := d.controller(ctx, id)
	if err != nil {
		return err
	}
	_, err = c.Freeze(ctx, ibot.FreezeOptions{ForceExit: forceExit})
	return ActivityError(err)
}

// partialError names the bots left unfrozen. It is retryable unless every
// failure is permanent (unknown bot, bad credentials): then retrying
// cannot help and the step should fail at once.
func partialError(frozen, total int, failures []freezeFailure) error {
	permanent := true
	var b strings.Builder
	fmt.Fprintf(&b, "froze %d of %d bots; %d failed:", frozen, total, len(failures))
	for i, f := range failures {
		if retryable(f.err) {
			permanent = false
		}
		if i < 10 {
			fmt.Fprintf(&b, " %s (%s);", f.bot, f.err)
		}
	}
	if len(failures) > 10 {
		fmt.Fprintf(&b, " and %d more", len(failures)-10)
	}
	err := errors.New(strings.TrimSuffix(b.String(), ";"))
	if permanent {
		return activities.NonRetryable(ErrFleetPartial, err)
	}
	return activities.Retryable(ErrFleetPartial, err)
}

// previousProgress reads the last heartbeat of an earlier attempt (none
// outside Temporal or in a local activity, which cannot heartbeat).
func previousProgress(ctx context.Context) FreezeProgress {
	var p FreezeProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		if activity.GetHeartbeatDetails(ctx, &p) != nil {
			return FreezeProgress{}
		}
	}
	return p
}

// progress is the set of bots frozen so far (earlier attempts included),
// heartbeated at most every heartbeatEvery.
type progress struct {
	ctx    context.Context
	on     bool
	mu     sync.Mutex
	frozen []string
	last   time.Time
}

func newProgress(ctx context.Context, done map[string]bool) *progress {
	p := &progress{ctx: ctx, on: activity.IsActivity(ctx)}
	for b := range done {
		p.frozen = append(p.frozen, b)
	}
	sort.Strings(p.frozen)
	return p
}

func (p *progress) add(bot string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = append(p.frozen, bot)
	if p.on && time.Since(p.last) >= heartbeatEvery {
		p.last = time.Now()
		activity.RecordHeartbeat(p.ctx, FreezeProgress{Frozen: p.frozen})
	}
}

// flush heartbeats the final progress before a failed attempt ends.
func (p *progress) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		activity.RecordHeartbeat(p.ctx, FreezeProgress{Frozen: p.frozen})
	}
}

func (p *progress) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.frozen)
}
