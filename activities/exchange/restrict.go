package exchange

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/activities"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/runbooks"
)

// RestrictTarget is one key of a fleet containment.
type RestrictTarget struct {
	// Exchange is the exchange account name, as for the other actions.
	Exchange   string   `json:"exchange"`
	SubAccount string   `json:"sub_account"`
	KeyID      string   `json:"key_id"`
	IPs        []string `json:"ips"`
	// Revoke deletes the key instead of restricting it (a suspect host:
	// its own addresses cannot be trusted).
	Revoke bool `json:"revoke"`
}

// RestrictKeysParams are exchange.restrict_keys's params.
type RestrictKeysParams struct {
	Targets     []RestrictTarget `json:"targets"`
	Concurrency int              `json:"concurrency"`
}

// Batch bounds.
const (
	DefaultRestrictConcurrency = 16
	MaxRestrictConcurrency     = 64
	MaxRestrictTargets         = 10000
)

// Validate checks the params.
func (p *RestrictKeysParams) Validate() error {
	if len(p.Targets) == 0 {
		return errors.New("targets must not be empty")
	}
	if len(p.Targets) > MaxRestrictTargets {
		return fmt.Errorf("at most %d targets per call", MaxRestrictTargets)
	}
	if p.Concurrency == 0 {
		p.Concurrency = DefaultRestrictConcurrency
	}
	if p.Concurrency < 1 || p.Concurrency > MaxRestrictConcurrency {
		return fmt.Errorf("concurrency must be between 1 and %d", MaxRestrictConcurrency)
	}
	seen := map[string]int{}
	for i, t := range p.Targets {
		if t.Exchange == "" || t.SubAccount == "" || t.KeyID == "" {
			return fmt.Errorf("targets[%d]: exchange, sub_account and key_id are required", i)
		}
		if !t.Revoke && len(xchg.NormalizeIPs(t.IPs)) == 0 {
			return fmt.Errorf("targets[%d]: ips must not be empty unless revoke is true (an empty whitelist allows any IP)", i)
		}
		// Two targets on one key would race each other's whitelist.
		k := t.Exchange + "\x00" + t.KeyID
		if j, dup := seen[k]; dup {
			return fmt.Errorf("targets[%d] and targets[%d] name the same key %s", j, i, short(t.KeyID))
		}
		seen[k] = i
	}
	return nil
}

// RestrictKeysSpec declares exchange.restrict_keys.
var RestrictKeysSpec = runbooks.ActionSpec{
	Name: "exchange.restrict_keys",
	Description: "Fleet containment in one step: for each target, restrict the key's IP whitelist to exactly ips " +
		"(as exchange.set_ip_whitelist) or, with revoke: true, delete it (as exchange.revoke_key; already gone is " +
		"done). Runs up to concurrency keys at once (default 16, max 64) with a few quick retries per key, " +
		"heartbeats the keys done, and on a retry of the step skips them. Fails (retryable, error type " +
		"PartialFailure, details = outputs) when any key still failed, so the retry does just the rest; a batch " +
		"whose only failures cannot succeed by retrying fails non-retryable. Run it as a regular (not local) " +
		"activity with a heartbeat timeout: local activities cannot heartbeat, so their retries redo every key.",
	Params: []runbooks.ParamSpec{
		{Name: "targets", Type: runbooks.ParamAny, Required: true,
			Description: "list of {exchange, sub_account, key_id, ips, revoke}"},
		{Name: "concurrency", Type: runbooks.ParamInt, Default: DefaultRestrictConcurrency},
	},
	Outputs:    []string{"done", "failed", "restricted", "revoked", "already_absent", "skipped", "requests"},
	SideEffect: runbooks.Reversible, // as set_ip_whitelist (revoke: true targets are irreversible)
	Needs:      []string{"exchange.management_credential"},
	Example: "- id: lock_fleet\n  action: exchange.restrict_keys\n  with:\n    concurrency: 32\n    targets:\n" +
		"      - {exchange: binance, sub_account: bot-1@example.com, key_id: \"${{ event.data.key_id }}\", ips: [\"203.0.113.10\"]}",
}

// ErrPartialFailure is the error type of a batch in which some keys failed.
const ErrPartialFailure = "PartialFailure"

// RestrictProgress is the heartbeat detail: the indexes of the targets done
// (in the params' order, which a retry repeats) and how many.
type RestrictProgress struct {
	Done    int   `json:"done"`
	DoneIdx []int `json:"done_idx"`
}

// RestrictFailure is a key that failed after its own retries.
type RestrictFailure struct {
	KeyID     string `json:"key_id"`
	Exchange  string `json:"exchange"`
	Error     string `json:"error"`
	Retryable bool   `json:"retryable"`
}

// Per-key quick retries inside one attempt of the step: enough to ride out
// a dropped connection or a short 429 without failing the whole batch.
const (
	restrictTries      = 3
	restrictBackoff    = 50 * time.Millisecond
	restrictMaxBackoff = time.Second
)

func restrictKeys(d Deps) activities.Action {
	return activities.Typed(RestrictKeysSpec, func(ctx context.Context, req runbooks.ActionRequest, p RestrictKeysParams) (runbooks.ActionResult, error) {
		return runRestrict(ctx, d, p)
	})
}

type restrictRun struct {
	mu       sync.Mutex
	done     map[int]bool
	skipped  int
	counts   map[string]int
	requests int
	failed   []RestrictFailure
	isAct    bool
}

func runRestrict(ctx context.Context, d Deps, p RestrictKeysParams) (runbooks.ActionResult, error) {
	r := &restrictRun{done: map[int]bool{}, counts: map[string]int{}, isAct: activity.IsActivity(ctx)}
	// skip is read by this loop only; r.done is written by the workers
	// under r.mu.
	skip := map[int]bool{}
	if r.isAct && activity.HasHeartbeatDetails(ctx) {
		var prev RestrictProgress
		if err := activity.GetHeartbeatDetails(ctx, &prev); err == nil {
			for _, i := range prev.DoneIdx {
				if i >= 0 && i < len(p.Targets) {
					skip[i], r.done[i] = true, true
				}
			}
		}
	}
	r.skipped = len(skip)

	sem := make(chan struct{}, p.Concurrency)
	var wg sync.WaitGroup
	for i, t := range p.Targets {
		if skip[i] {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outcome, calls, err := restrictOne(ctx, d, t)
			r.finish(ctx, i, t, outcome, calls, err)
		}()
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return runbooks.ActionResult{}, activities.Retryable(activities.ErrNetwork, fmt.Errorf("restrict_keys: %w (%d of %d keys done)", err, len(r.done), len(p.Targets)))
	}
	sort.Slice(r.failed, func(i, j int) bool { return r.failed[i].KeyID < r.failed[j].KeyID })
	out := map[string]any{"done": len(r.done), "failed": r.failedOut(), "restricted": r.counts["restricted"],
		"revoked": r.counts["revoked"], "already_absent": r.counts["already_absent"], "skipped": r.skipped,
		"requests": r.requests}
	summary := fmt.Sprintf("%d of %d keys contained (%d restricted, %d revoked, %d already gone, %d done earlier)",
		len(r.done), len(p.Targets), r.counts["restricted"], r.counts["revoked"], r.counts["already_absent"], r.skipped)
	if len(r.failed) == 0 {
		return runbooks.ActionResult{Outputs: out, Summary: summary}, nil
	}
	retry := false
	var msgs []string
	for _, f := range r.failed {
		retry = retry || f.Retryable
		msgs = append(msgs, short(f.KeyID)+": "+f.Error)
		if len(msgs) == 5 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(r.failed)-5))
			break
		}
	}
	msg := fmt.Sprintf("%s; %d failed: %s", summary, len(r.failed), strings.Join(msgs, "; "))
	return runbooks.ActionResult{}, temporal.NewApplicationErrorWithOptions(msg, ErrPartialFailure,
		temporal.ApplicationErrorOptions{NonRetryable: !retry, Details: []any{out}})
}

func (r *restrictRun) failedOut() []map[string]any {
	out := []map[string]any{}
	for _, f := range r.failed {
		out = append(out, map[string]any{"key_id": f.KeyID, "exchange": f.Exchange, "error": f.Error, "retryable": f.Retryable})
	}
	return out
}

func (r *restrictRun) finish(ctx context.Context, i int, t RestrictTarget, outcome string, calls int, err error) {
	r.mu.Lock()
	r.requests += calls
	if err != nil {
		aerr := ActivityError(err)
		var ae *temporal.ApplicationError
		retryable := errors.As(aerr, &ae) && !ae.NonRetryable()
		r.failed = append(r.failed, RestrictFailure{KeyID: t.KeyID, Exchange: t.Exchange, Error: err.Error(), Retryable: retryable})
		r.mu.Unlock()
		return
	}
	r.done[i] = true
	r.counts[outcome]++
	var prog RestrictProgress
	if r.isAct {
		prog = RestrictProgress{Done: len(r.done), DoneIdx: make([]int, 0, len(r.done))}
		for j := range r.done {
			prog.DoneIdx = append(prog.DoneIdx, j)
		}
		sort.Ints(prog.DoneIdx)
	}
	r.mu.Unlock()
	if r.isAct {
		// The SDK throttles heartbeats and sends the latest details with
		// a failure, so every key done is recorded for the retry.
		activity.RecordHeartbeat(ctx, prog)
	}
}

// restrictOne contains one key with a few quick retries of retryable
// failures, honouring a short Retry-After.
func restrictOne(ctx context.Context, d Deps, t RestrictTarget) (outcome string, calls int, err error) {
	backoff := restrictBackoff
	for try := 1; ; try++ {
		var n int
		outcome, n, err = restrictOnce(ctx, d, t)
		calls += n
		if err == nil || try == restrictTries || !xchg.KindOf(err).Retryable() {
			return outcome, calls, err
		}
		wait := backoff
		var e *xchg.Error
		if errors.As(err, &e) && e.RetryAfter > wait {
			wait = e.RetryAfter
		}
		wait = min(wait, restrictMaxBackoff)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return outcome, calls, err
		}
		backoff *= 2
	}
}

func restrictOnce(ctx context.Context, d Deps, t RestrictTarget) (string, int, error) {
	if d.Exchanges == nil {
		return "", 0, &xchg.Error{Kind: xchg.KindInvalid, Exchange: t.Exchange, Op: "resolve", Message: "no exchange resolver configured"}
	}
	ex, err := d.Exchanges(ctx, t.Exchange)
	if err != nil {
		return "", 0, err
	}
	if t.Revoke {
		if !ex.Capabilities().ManageSubAccountKeys {
			return "", 0, &xchg.Error{Kind: xchg.KindUnsupported, Exchange: t.Exchange, Op: "revoke_key",
				Message: "no key-management API; delete the key in the web UI"}
		}
		err := ex.RevokeKey(ctx, t.SubAccount, t.KeyID)
		if xchg.IsNotFound(err) {
			return "already_absent", 1, nil
		}
		if err != nil {
			return "", 1, err
		}
		return "revoked", 1, nil
	}
	ch, err := ex.SetIPWhitelist(ctx, t.SubAccount, t.KeyID, t.IPs)
	if xchg.IsNotFound(err) {
		// A key that no longer exists cannot be used: contained.
		return "already_absent", ch.Calls, nil
	}
	return "restricted", ch.Calls, err
}
