package activities_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// scripted is an action that returns the error script gives for the
// attempt it runs in.
type scripted struct {
	name   string
	script func(attempt int32) error
}

func (s scripted) Spec() runbooks.ActionSpec {
	return runbooks.ActionSpec{Name: s.name, SideEffect: runbooks.Reversible}
}

func (s scripted) Run(ctx context.Context, _ runbooks.ActionRequest) (runbooks.ActionResult, error) {
	return runbooks.ActionResult{Summary: "ok"}, s.script(activity.GetInfo(ctx).Attempt)
}

// callOnce runs one action through the registry as the workflow does (up
// to maxAttempts, quick retries) and returns the error the workflow sees.
func callOnce(t *testing.T, a activities.Action, maxAttempts int32) error {
	t.Helper()
	reg, err := activities.NewRegistry(a)
	if err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	reg.RegisterWith(env)
	var seen error
	wf := func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: maxAttempts},
		})
		seen = workflow.ExecuteActivity(ctx, a.Spec().Name, runbooks.ActionRequest{Action: a.Spec().Name}).Get(ctx, nil)
		return nil
	}
	env.RegisterWorkflow(wf)
	env.ExecuteWorkflow(wf)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	return seen
}

// appErr unwraps the workflow-side error to the action's application error
// and reads its AttemptDetail.
func appErr(t *testing.T, err error) (*temporal.ApplicationError, workflows.AttemptDetail) {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) has no application error", err, err)
	}
	var d workflows.AttemptDetail
	if err := ae.Details(&d); err != nil {
		t.Fatalf("no AttemptDetail on %v: %v", ae, err)
	}
	return ae, d
}

func TestFailedActionReportsItsAttempt(t *testing.T) {
	// A plain Go error becomes a retryable ActionError: retried until the
	// attempts run out, and the last attempt's number travels with it.
	err := callOnce(t, scripted{"test.plain", func(a int32) error { return fmt.Errorf("exchange 503 on attempt %d", a) }}, 3)
	ae, d := appErr(t, err)
	if ae.Type() != activities.ErrAction || ae.NonRetryable() || ae.Message() != "exchange 503 on attempt 3" || d.Attempt != 3 {
		t.Errorf("plain error: type %q non-retryable %v message %q attempt %d; want ActionError, retryable, attempt 3",
			ae.Type(), ae.NonRetryable(), ae.Message(), d.Attempt)
	}

	// A non-retryable application error keeps its type, message and flag:
	// it stops at attempt 2 because the policy is not consulted again.
	err = callOnce(t, scripted{"test.auth", func(a int32) error {
		if a == 1 {
			return activities.Retryable(activities.ErrNetwork, errors.New("connection reset"))
		}
		return activities.NonRetryable(activities.ErrAuthentication, errors.New("invalid api key"))
	}}, 5)
	ae, d = appErr(t, err)
	if ae.Type() != activities.ErrAuthentication || !ae.NonRetryable() || ae.Message() != "invalid api key" || d.Attempt != 2 {
		t.Errorf("non-retryable: type %q non-retryable %v message %q attempt %d; want AuthenticationError, non-retryable, attempt 2",
			ae.Type(), ae.NonRetryable(), ae.Message(), d.Attempt)
	}
}

func TestRetryAfterDelaySurvivesTheAttemptDetail(t *testing.T) {
	reg, err := activities.NewRegistry(scripted{"test.limited", func(int32) error {
		return activities.RetryAfter(errors.New("429 too many requests"), 7*time.Second)
	}})
	if err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	reg.RegisterWith(env)
	_, err = env.ExecuteActivity("test.limited", runbooks.ActionRequest{Action: "test.limited"})
	ae, d := appErr(t, err)
	if ae.Type() != activities.ErrRateLimited || ae.NonRetryable() || ae.NextRetryDelay() != 7*time.Second || d.Attempt != 1 {
		t.Errorf("rate limit: type %q non-retryable %v next delay %v attempt %d; want RateLimited, retryable, 7s, attempt 1",
			ae.Type(), ae.NonRetryable(), ae.NextRetryDelay(), d.Attempt)
	}
}

func TestHooksSeeTheActionsOwnError(t *testing.T) {
	plain := errors.New("boom")
	reg, err := activities.NewRegistry(scripted{"test.boom", func(int32) error { return plain }})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingHook{}
	reg.AddHook(rec)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	reg.RegisterWith(env)
	if _, err := env.ExecuteActivity("test.boom", runbooks.ActionRequest{Action: "test.boom"}); err == nil {
		t.Fatal("the action's error was swallowed")
	}
	if rec.err != plain {
		t.Errorf("hook saw %v, want the action's own error", rec.err)
	}
}

type recordingHook struct{ err error }

func (h *recordingHook) ActionStarted(context.Context, runbooks.ActionRequest, int32) {}
func (h *recordingHook) ActionFinished(_ context.Context, _ runbooks.ActionRequest, _ int32, _ runbooks.ActionResult, err error) {
	h.err = err
}
