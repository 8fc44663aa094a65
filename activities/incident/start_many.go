package incident

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
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/runbooks"
)

// Fan-out bounds of incident.start_many. Each start is one or two
// Temporal calls; more in flight only queues them in the frontend.
const (
	DefaultStartConcurrency = 32
	MaxStartConcurrency     = 256
)

// ErrFleetPartial is the error type when some incidents were started and
// others not (the same type bot.freeze_many reports).
const ErrFleetPartial = "FleetPartial"

// Target is one bot whose incident is started.
type Target struct {
	Bot        string `json:"bot"`
	KeyID      string `json:"key_id,omitempty"`
	Severity   string `json:"severity,omitempty"`
	IncidentID string `json:"incident_id,omitempty"`
}

// StartManyParams are incident.start_many's params.
type StartManyParams struct {
	Runbook string   `json:"runbook"`
	Targets []Target `json:"targets"`
	// Fleet is the calling (fleet) incident's id; the per-bot runbook
	// receives it as input `fleet`.
	Fleet string `json:"fleet"`
	// Severity is given to targets that carry none.
	Severity    string `json:"severity"`
	Concurrency int    `json:"concurrency"`
}

// Validate checks the params.
func (p *StartManyParams) Validate() error {
	if p.Runbook == "" || p.Fleet == "" {
		return errors.New("runbook and fleet are required")
	}
	for i, t := range p.Targets {
		if t.Bot == "" {
			return fmt.Errorf("targets[%d]: bot is required", i)
		}
	}
	if p.Concurrency < 1 || p.Concurrency > MaxStartConcurrency {
		return fmt.Errorf("concurrency is %d; want 1 to %d", p.Concurrency, MaxStartConcurrency)
	}
	return nil
}

// StartManySpec declares incident.start_many.
var StartManySpec = runbooks.ActionSpec{
	Name: "incident.start_many",
	Description: "Start one incident of `runbook` per target, with inputs {bot, key_id, severity, fleet}, under the id " +
		"the trigger consumer would use (the target's incident_id, else <runbook>:<bot>:<key_id>). An incident that is " +
		"already running or already closed is not started again. Progress is heartbeated; fails (retryably unless " +
		"every failure is permanent) when any start failed, naming them. Idempotent: the same ids on every retry.",
	Params: []runbooks.ParamSpec{
		{Name: "runbook", Type: runbooks.ParamString, Required: true, Description: "per-bot runbook, e.g. contain-key-breach"},
		{Name: "targets", Type: runbooks.ParamAny, Required: true, Description: "list of {bot, key_id, severity, incident_id}"},
		{Name: "fleet", Type: runbooks.ParamString, Required: true, Description: "this incident's id: ${{ incident.id }}"},
		{Name: "severity", Type: runbooks.ParamString, Default: "high", Description: "severity of targets that carry none"},
		{Name: "concurrency", Type: runbooks.ParamInt, Default: DefaultStartConcurrency,
			Description: fmt.Sprintf("starts in flight at once (1 to %d)", MaxStartConcurrency)},
	},
	// Counts, and failed: [{bot, incident_id, error}] (empty on success).
	Outputs: []string{"started", "already_running", "closed", "failed"},
	// A started incident cannot be taken back, and it revokes keys: held
	// for approval with the rest when the blast-radius limit is exceeded.
	SideEffect: runbooks.Irreversible,
	Needs:      []string{"temporal.client", "runbooks.loaded"},
	Example: "- id: remediate\n  action: incident.start_many\n  with:\n    runbook: contain-key-breach\n" +
		"    targets: \"${{ inputs.targets }}\"\n    fleet: \"${{ incident.id }}\"",
}

// Outcomes recorded per incident id in the heartbeat.
const (
	outcomeStarted = "started"
	outcomeRunning = "running"
	outcomeClosed  = "closed"
)

// StartProgress is incident.start_many's heartbeat detail: the outcome of
// every incident handled so far by id, so a retried attempt neither starts
// them again nor counts them differently.
type StartProgress struct {
	Done map[string]string `json:"done"`
}

// heartbeatEvery bounds how often progress is encoded for a heartbeat;
// the SDK throttles further what reaches the server.
const heartbeatEvery = 200 * time.Millisecond

type job struct {
	target Target
	id     string
}

type failure struct {
	job job
	err error
}

// StartMany builds incident.start_many.
func StartMany(d Deps) activities.Action {
	return activities.Typed(StartManySpec, func(ctx context.Context, req runbooks.ActionRequest, p StartManyParams) (runbooks.ActionResult, error) {
		if d.Starter == nil {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no incident starter configured on this worker"))
		}
		if p.Runbook == req.Runbook {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams,
				fmt.Errorf("runbook %s cannot start incidents of itself", p.Runbook))
		}
		prog := newProgress(ctx)
		var todo []job
		seen := map[string]bool{}
		for _, t := range p.Targets {
			id := t.IncidentID
			if id == "" {
				id = ingest.IncidentID(p.Runbook, t.Bot, t.KeyID)
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			if !prog.has(id) {
				todo = append(todo, job{target: t, id: id})
			}
		}
		failures := startAll(ctx, d.Starter, todo, p, req.IncidentID, prog)
		counts := prog.counts()
		if len(failures) > 0 {
			prog.flush()
			return runbooks.ActionResult{}, partialError(counts, len(seen), failures)
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{
				"started": counts[outcomeStarted], "already_running": counts[outcomeRunning],
				"closed": counts[outcomeClosed], "failed": []any{},
			},
			Summary: fmt.Sprintf("%s for %d bots: %d started, %d already running, %d already closed",
				p.Runbook, len(seen), counts[outcomeStarted], counts[outcomeRunning], counts[outcomeClosed]),
		}, nil
	})
}

// startAll starts the jobs with at most p.Concurrency in flight.
func startAll(ctx context.Context, s Starter, jobs []job, p StartManyParams, caller string, prog *progress) []failure {
	var (
		mu       sync.Mutex
		failures []failure
		wg       sync.WaitGroup
	)
	fail := func(j job, err error) {
		mu.Lock()
		failures = append(failures, failure{job: j, err: err})
		mu.Unlock()
	}
	next := make(chan job)
	for w := 0; w < min(p.Concurrency, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				sev := j.target.Severity
				if sev == "" {
					sev = p.Severity
				}
				res, err := s.StartIncident(ctx, Spec{
					Runbook:    p.Runbook,
					IncidentID: j.id,
					Inputs:     map[string]any{"bot": j.target.Bot, "key_id": j.target.KeyID, "severity": sev, "fleet": p.Fleet},
					StartedBy:  "fleet:" + caller,
				})
				if err != nil {
					fail(j, err)
					continue
				}
				switch {
				case res.Started:
					prog.add(j.id, outcomeStarted)
				case res.Closed:
					prog.add(j.id, outcomeClosed)
				default:
					prog.add(j.id, outcomeRunning)
				}
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			fail(j, activities.Retryable(activities.ErrNetwork, ctx.Err()))
			continue
		}
		next <- j
	}
	close(next)
	wg.Wait()
	sort.Slice(failures, func(i, k int) bool { return failures[i].job.id < failures[k].job.id })
	return failures
}

// partialError names the incidents not started; retryable unless every
// failure is permanent (say, an unknown runbook).
func partialError(counts map[string]int, total int, failures []failure) error {
	permanent := true
	var b strings.Builder
	fmt.Fprintf(&b, "handled %d of %d incidents; %d failed to start:", counts[outcomeStarted]+counts[outcomeRunning]+counts[outcomeClosed], total, len(failures))
	for i, f := range failures {
		if retryable(f.err) {
			permanent = false
		}
		if i < 10 {
			fmt.Fprintf(&b, " %s (%s);", f.job.id, f.err)
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

func retryable(err error) bool {
	var nr interface{ NonRetryable() bool }
	return !errors.As(err, &nr) || !nr.NonRetryable()
}

// progress is the outcome of every incident handled so far (earlier
// attempts included), heartbeated at most every heartbeatEvery.
type progress struct {
	ctx  context.Context
	on   bool
	mu   sync.Mutex
	done map[string]string
	last time.Time
}

func newProgress(ctx context.Context) *progress {
	p := &progress{ctx: ctx, on: activity.IsActivity(ctx), done: map[string]string{}}
	if p.on && activity.HasHeartbeatDetails(ctx) {
		var prev StartProgress
		if activity.GetHeartbeatDetails(ctx, &prev) == nil {
			for id, o := range prev.Done {
				p.done[id] = o
			}
		}
	}
	return p
}

func (p *progress) has(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.done[id]
	return ok
}

func (p *progress) add(id, outcome string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[id] = outcome
	if p.on && time.Since(p.last) >= heartbeatEvery {
		p.last = time.Now()
		p.beat()
	}
}

// flush heartbeats the final progress before a failed attempt ends.
func (p *progress) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		p.beat()
	}
}

// beat records the progress; the SDK encodes it at once (under p.mu).
func (p *progress) beat() {
	activity.RecordHeartbeat(p.ctx, StartProgress{Done: p.done})
}

func (p *progress) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, o := range p.done {
		out[o]++
	}
	return out
}
