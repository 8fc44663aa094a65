package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
)

// runParallel runs a group's children concurrently. Each child keeps its own
// when, retry, timeout and on_failure (inheriting the group's on_failure when
// it sets none). The group waits for every child — a sibling half-way through
// a revoke is not interrupted because another failed — and then fails if a
// child failed with on_failure abort or compensate.
func (r *run) runParallel(ctx workflow.Context, st runbooks.Step) outcome {
	ss := r.byID[st.ID]
	r.start(ctx, ss, StatusRunning)
	outs := make([]outcome, len(st.Parallel))
	done := 0
	for i, child := range st.Parallel {
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { done++ }()
			outs[i] = r.runStep(gctx, child)
		})
	}
	// Wait on a disconnected context: after an abort the children see the
	// cancellation and return quickly, and the group must not report before
	// they have recorded their own state.
	wait, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	_ = workflow.Await(wait, func() bool { return done == len(st.Parallel) })

	agg := mergeOutcomes(outs)
	switch agg.End {
	case "":
		failedChildren := 0
		for _, c := range st.Parallel {
			if r.byID[c.ID].Status == StatusFailed {
				failedChildren++
			}
		}
		if failedChildren > 0 {
			ss.Summary = fmt.Sprintf("%d of %d failed (on_failure: continue)", failedChildren, len(st.Parallel))
		}
		r.end(ctx, ss, StatusSucceeded)
	case StatusAborted:
		r.end(ctx, ss, StatusAborted)
	case StatusDenied:
		ss.Error = agg.Err
		r.end(ctx, ss, StatusDenied)
	default:
		ss.Error = agg.Err
		r.end(ctx, ss, StatusFailed)
	}
	return agg
}

// mergeOutcomes combines children's outcomes: an abort wins, then a failure,
// then a denial; compensation runs if any failing child asked for it. The
// first error in runbook order is reported.
func mergeOutcomes(outs []outcome) outcome {
	rank := map[Status]int{"": 0, StatusDenied: 1, StatusFailed: 2, StatusAborted: 3}
	var agg outcome
	for _, o := range outs {
		if rank[o.End] > rank[agg.End] {
			agg.End = o.End
		}
		if agg.Err == "" && o.Err != "" {
			agg.Err = o.Err
		}
		agg.Compensate = agg.Compensate || o.Compensate
	}
	if agg.End == "" {
		agg.Err = ""
	}
	return agg
}
