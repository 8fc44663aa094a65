package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
)

// compensationFor is the undo of a step: the step's own `compensate` block,
// else the action's declared compensation, else none.
func (r *run) compensationFor(st runbooks.Step) (action string, with map[string]any, ok bool) {
	if st.Compensate != nil && st.Compensate.Action != "" {
		return st.Compensate.Action, st.Compensate.With, true
	}
	if m, found := r.in.Actions[st.Action]; found && m.Compensation != nil && m.Compensation.Action != "" {
		return m.Compensation.Action, m.Compensation.With, true
	}
	return "", nil, false
}

// compensate undoes the succeeded steps in reverse completion order. It is
// best effort: a failed compensation is recorded and the rest still run, so
// one stuck undo does not leave everything else in place. It returns the
// failures for the incident's error.
func (r *run) compensate(ctx workflow.Context) []string {
	var failures []string
	for i := len(r.completed) - 1; i >= 0; i-- {
		if ctx.Err() != nil { // aborted: no more compensation
			return failures
		}
		id := r.completed[i]
		st, ss := r.specs[id], r.byID[id]
		action, with, ok := r.compensationFor(st)
		if !ok {
			continue
		}
		cs := &StepState{ID: id + ".compensate", Kind: runbooks.StepAction, Action: action, SideEffect: r.sideEffect(action)}
		ss.Compensation = cs
		r.start(ctx, cs, StatusRunning)

		params, err := renderCompensation(with, r.scope(), r.params[id], ss.Outputs)
		if err != nil {
			cs.Error = err.Error()
			r.end(ctx, cs, StatusFailed)
			failures = append(failures, fmt.Sprintf("compensation of %s: %s", id, cs.Error))
			continue
		}
		req := runbooks.ActionRequest{
			IncidentID:   r.in.IncidentID,
			Runbook:      r.in.Runbook.Name,
			StepID:       id,
			Action:       action,
			Params:       params,
			Compensation: true,
		}
		res, attempts, err := r.execute(ctx, st, id+"/compensate", req)
		cs.Attempts = attempts
		if err != nil {
			if ctx.Err() != nil {
				r.end(ctx, cs, StatusAborted)
				return failures
			}
			cs.Error = errorText(err)
			r.end(ctx, cs, StatusFailed)
			failures = append(failures, fmt.Sprintf("compensation of %s: %s", id, cs.Error))
			continue
		}
		cs.Outputs = redactOutputs(res.Outputs)
		cs.Summary = res.Summary
		r.end(ctx, cs, StatusSucceeded)
		ss.Status = StatusCompensated
	}
	return failures
}
