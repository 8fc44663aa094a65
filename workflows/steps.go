package workflows

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
)

// outcome is how a step left the incident: End "" means go on; otherwise the
// incident ends with that status (after compensation when Compensate is set).
type outcome struct {
	End        Status
	Compensate bool
	Err        string
}

var abortedOutcome = outcome{End: StatusAborted}

// runStep runs one step of any kind.
func (r *run) runStep(ctx workflow.Context, st runbooks.Step) outcome {
	ss := r.byID[st.ID]
	if ctx.Err() != nil {
		return abortedOutcome
	}
	ok, err := runbooks.EvalCondition(st.When, r.scope())
	if err != nil {
		r.start(ctx, ss, StatusRunning)
		ss.Error = "when: " + err.Error()
		r.end(ctx, ss, StatusFailed)
		return r.failed(st, ss.Error)
	}
	if !ok {
		r.skip(ctx, st, "condition is false: "+st.When)
		return outcome{}
	}
	switch st.Kind() {
	case runbooks.StepParallel:
		return r.runParallel(ctx, st)
	case runbooks.StepApproval:
		return r.runApproval(ctx, st)
	default:
		return r.runAction(ctx, st)
	}
}

// skip marks a step (and a group's children) skipped with a reason.
func (r *run) skip(ctx workflow.Context, st runbooks.Step, why string) {
	ss := r.byID[st.ID]
	ss.Summary = why
	r.end(ctx, ss, StatusSkipped)
	for _, c := range st.Parallel {
		r.skip(ctx, c, "group "+st.ID+" skipped")
	}
}

// failed turns a step failure into an outcome by the step's on_failure.
func (r *run) failed(st runbooks.Step, msg string) outcome {
	full := fmt.Sprintf("step %s failed: %s", st.ID, msg)
	switch r.policy[st.ID] {
	case runbooks.OnFailureContinue:
		return outcome{}
	case runbooks.OnFailureCompensate:
		return outcome{End: StatusFailed, Compensate: true, Err: full}
	default:
		return outcome{End: StatusFailed, Err: full}
	}
}

// runAction runs an action step: optional hold, render, execute, record.
func (r *run) runAction(ctx workflow.Context, st runbooks.Step) outcome {
	ss := r.byID[st.ID]
	// A page is never held (since authz): a held incident must still be
	// able to tell on-call that it waits.
	if r.in.HoldIrreversible && ss.SideEffect == runbooks.Irreversible && !(r.authzOn && r.in.Actions[st.Action].Pages) {
		if out := r.holdBefore(ctx, st); out.End != "" {
			return out
		}
	}
	r.start(ctx, ss, StatusRunning)
	params, err := renderParams(st.With, r.scope())
	if err != nil {
		ss.Error = err.Error()
		r.end(ctx, ss, StatusFailed)
		return r.failed(st, ss.Error)
	}
	req := runbooks.ActionRequest{
		IncidentID: r.in.IncidentID,
		Runbook:    r.in.Runbook.Name,
		StepID:     st.ID,
		Action:     st.Action,
		Params:     params,
	}
	res, attempts, err := r.execute(ctx, st, st.ID, req)
	ss.Attempts = attempts
	if err != nil {
		if ctx.Err() != nil {
			r.end(ctx, ss, StatusAborted)
			return abortedOutcome
		}
		ss.Error = errorText(err)
		r.end(ctx, ss, StatusFailed)
		return r.failed(st, ss.Error)
	}
	ss.Outputs = redactOutputs(res.Outputs)
	ss.Summary = res.Summary
	r.end(ctx, ss, StatusSucceeded)
	r.params[st.ID] = params
	r.completed = append(r.completed, st.ID)
	return outcome{}
}

// execute runs one action activity with the step's timeout and retry policy
// and returns its result and the attempt count (0 when unknown).
func (r *run) execute(ctx workflow.Context, st runbooks.Step, activityID string, req runbooks.ActionRequest) (runbooks.ActionResult, int32, error) {
	opts, maxAttempts := activityOptions(st, activityID)
	var res runbooks.ActionResult
	var err error
	if st.Local {
		// Same timeout and retry policy; the local activity runs in this
		// worker and its result is recorded as a marker. The SDK defaults
		// a local activity's ScheduleToClose to its StartToClose, which
		// would make the step's timeout the budget of all its attempts
		// (a 10 s lockout step with 30 attempts failed for good after one
		// hung call during a NATS restart); give it the same budget a
		// remote activity has.
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout:    opts.StartToCloseTimeout,
			ScheduleToCloseTimeout: retryBudget(opts.StartToCloseTimeout, opts.RetryPolicy),
			RetryPolicy:            opts.RetryPolicy,
			Summary:                opts.Summary,
		})
		err = workflow.ExecuteLocalActivity(lctx, req.Action, req).Get(lctx, &res)
	} else {
		actx := workflow.WithActivityOptions(ctx, opts)
		err = workflow.ExecuteActivity(actx, req.Action, req).Get(actx, &res)
	}
	if err != nil {
		return res, failedAttempts(err, maxAttempts), err
	}
	return res, res.Attempt, nil
}

// failedAttempts reads the attempt count of a failed activity: from an
// AttemptDetail the action attached, else max attempts when retries ran out
// (or when only one was allowed), else 0 (unknown: Temporal's ActivityError
// carries no attempt number).
func failedAttempts(err error, maxAttempts int32) int32 {
	if maxAttempts == 1 {
		return 1
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.HasDetails() {
		var d AttemptDetail
		if ae.Details(&d) == nil && d.Attempt > 0 {
			return d.Attempt
		}
	}
	var act *temporal.ActivityError
	if errors.As(err, &act) && act.RetryState() == enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
		return maxAttempts
	}
	return 0
}

// errorText is the failure a person needs: the action's own message and
// error type, without Temporal's activity envelope (event ids, identity).
func errorText(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		if ae.Type() != "" {
			return ae.Type() + ": " + ae.Message()
		}
		return ae.Message()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "timeout: " + te.Error()
	}
	var act *temporal.ActivityError
	if errors.As(err, &act) && errors.Unwrap(act) != nil {
		return errors.Unwrap(act).Error()
	}
	return err.Error()
}
