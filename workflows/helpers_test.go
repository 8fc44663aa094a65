package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/runbooks"
)

// harness runs IncidentWorkflow in the SDK's test environment with fake
// actions registered under their action names, and records every request
// the fakes receive.
type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu      sync.Mutex
	calls   []runbooks.ActionRequest
	updates int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env)
	return &harness{t: t, env: env}
}

type actionFn func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error)

// action registers a fake action. Like activities.Registry it stamps the
// attempt number on results, and (as AttemptDetail) on errors.
func (h *harness) action(name string, fn actionFn) {
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		h.mu.Lock()
		h.calls = append(h.calls, req)
		h.mu.Unlock()
		attempt := activity.GetInfo(ctx).Attempt
		res, err := fn(ctx, req)
		res.Attempt = attempt
		return res, withAttempt(err, attempt)
	}, activity.RegisterOptions{Name: name})
}

// ok registers a fake that succeeds with fixed outputs.
func (h *harness) ok(name string, outputs map[string]any) {
	h.action(name, func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		return runbooks.ActionResult{Outputs: outputs, Summary: name + " done"}, nil
	})
}

// withAttempt re-creates an application error with an AttemptDetail, the
// way an activity wrapper can report which attempt failed.
func withAttempt(err error, attempt int32) error {
	var ae *temporal.ApplicationError
	if err == nil || !asApp(err, &ae) {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(ae.Message(), ae.Type(), temporal.ApplicationErrorOptions{
		NonRetryable: ae.NonRetryable(),
		Details:      []any{AttemptDetail{Attempt: attempt}},
	})
}

func asApp(err error, target **temporal.ApplicationError) bool {
	ae, ok := err.(*temporal.ApplicationError)
	if ok {
		*target = ae
	}
	return ok
}

// requests returns the recorded requests for one action (compensations
// included) in call order.
func (h *harness) requests(action string) []runbooks.ActionRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []runbooks.ActionRequest
	for _, c := range h.calls {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// actionOrder is the sequence of action names called.
func (h *harness) actionOrder() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		out = append(out, c.Action)
	}
	return out
}

// run executes the workflow to completion and returns its result.
func (h *harness) run(in IncidentInput) IncidentState {
	h.t.Helper()
	h.env.ExecuteWorkflow(IncidentWorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(h.t, h.env.GetWorkflowError())
	var st IncidentState
	require.NoError(h.t, h.env.GetWorkflowResult(&st))
	return st
}

// query reads the state query (call from a delayed callback).
func (h *harness) query() IncidentState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryState)
	require.NoError(h.t, err)
	var st IncidentState
	require.NoError(h.t, v.Get(&st))
	return st
}

// updateResult is filled in when the test environment answers an update
// (asynchronously, after the workflow has processed it).
type updateResult struct {
	done     bool
	accepted bool
	err      error
}

// update sends an update; check the result after the workflow has run.
func (h *harness) update(name string, d Decision) *updateResult {
	r := &updateResult{}
	h.updates++
	h.env.UpdateWorkflow(name, fmt.Sprintf("%s-%d", name, h.updates), &testsuite.TestUpdateCallback{
		OnAccept:   func() { r.accepted = true },
		OnReject:   func(err error) { r.err, r.done = err, true },
		OnComplete: func(_ any, err error) { r.err, r.done = err, true },
	}, d)
	return r
}

// ok asserts the update was accepted and completed without error.
func (r *updateResult) ok(t *testing.T) {
	t.Helper()
	require.True(t, r.done, "update got no answer")
	require.NoError(t, r.err)
	require.True(t, r.accepted)
}

// rejected asserts the update was refused with a message containing want.
func (r *updateResult) rejected(t *testing.T, want string) {
	t.Helper()
	require.True(t, r.done, "update got no answer")
	require.Error(t, r.err)
	require.False(t, r.accepted, "a rejected update must not be accepted (validator, not handler)")
	require.Contains(t, r.err.Error(), want)
}

// at schedules fn at the given workflow time.
func (h *harness) at(d string, fn func()) {
	dur, err := runbooks.ParseDuration(d)
	require.NoError(h.t, err)
	h.env.RegisterDelayedCallback(fn, dur.D())
}

func mustRunbook(t *testing.T, src string) runbooks.Runbook {
	t.Helper()
	var rb runbooks.Runbook
	require.NoError(t, yaml.Unmarshal([]byte(src), &rb))
	return rb
}

// input is a typical incident input around a runbook.
func input(t *testing.T, src string) IncidentInput {
	return IncidentInput{
		IncidentID:  "inc-bot1-contain",
		Runbook:     mustRunbook(t, src),
		RunbookHash: "sha256:test",
		Inputs:      map[string]any{"bot": "bot1", "exchange": "binance"},
		Event: map[string]any{
			"id":   "evt-1",
			"data": map[string]any{"key_id": "AK-LEAKED", "severity": "critical"},
		},
		Actions: map[string]runbooks.ActionMeta{
			"bot.freeze":             {SideEffect: runbooks.Reversible, Compensation: &runbooks.CompensationSpec{Action: "bot.unfreeze", With: map[string]any{"bot": "${{ params.bot }}"}}},
			"bot.unfreeze":           {SideEffect: runbooks.Reversible},
			"exchange.cancel_orders": {SideEffect: runbooks.Irreversible},
			"exchange.revoke_key":    {SideEffect: runbooks.Irreversible},
			"exchange.create_key":    {SideEffect: runbooks.Reversible},
			"exchange.delete_key":    {SideEffect: runbooks.Irreversible},
			"notify.sms":             {SideEffect: runbooks.Irreversible},
			"core.log":               {SideEffect: runbooks.ReadOnly},
		},
		Approvers: map[string][]string{"security": {"alice", "bob"}, "oncall": {"carol"}},
		Trigger:   "event",
		StartedBy: "breach.bot1.key_leaked",
	}
}

// step finds a step in a state by id.
func step(t *testing.T, st IncidentState, id string) StepState {
	t.Helper()
	for _, s := range st.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %q in state (steps: %v)", id, stepIDs(st))
	return StepState{}
}

func stepIDs(st IncidentState) []string {
	var ids []string
	for _, s := range st.Steps {
		ids = append(ids, s.ID+"="+string(s.Status))
	}
	return ids
}

func activityName(name string) activity.RegisterOptions { return activity.RegisterOptions{Name: name} }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// hang is an action that runs until its context is cancelled.
func hang(ctx context.Context, _ runbooks.ActionRequest) (runbooks.ActionResult, error) {
	<-ctx.Done()
	return runbooks.ActionResult{}, ctx.Err()
}

// blocking makes an action run for a day of workflow time (a testify mock
// that waits on the test clock), so updates can arrive while it runs.
// Register every other action first: the SDK forbids registering after a mock.
func (h *harness) blocking(name string) {
	h.env.RegisterActivityWithOptions(hang, activityName(name))
	h.env.OnActivity(name, mock.Anything, mock.Anything).After(24 * time.Hour).
		Return(func(_ context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
			h.mu.Lock()
			h.calls = append(h.calls, req)
			h.mu.Unlock()
			return runbooks.ActionResult{}, nil
		})
}
