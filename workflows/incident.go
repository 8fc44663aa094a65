package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks/authz"
)

// Register registers the interpreter workflow under IncidentWorkflowName,
// bound to the worker's authorizer a (authz.Live in the worker): every
// start and decision of an incident is verified with it. The worker must
// also register AskApproversActivity.
func Register(w worker.WorkflowRegistry, a authz.Authorizer) {
	w.RegisterWorkflowWithOptions((&Interpreter{Authz: a}).Incident, workflow.RegisterOptions{Name: IncidentWorkflowName})
}

// IncidentWorkflow interprets one runbook for one incident: its steps run in
// order (parallel groups concurrently), approval gates wait for the approve /
// deny updates, the abort update stops everything, and later events arrive
// on the evidence signal. It always returns the final IncidentState with a
// nil error; the state's Status tells how the incident ended.
//
// IncidentWorkflow has no authorizer (replay tests register it: replay never
// asks one); an incident it starts is refused at its start.
func IncidentWorkflow(ctx workflow.Context, in IncidentInput) (IncidentState, error) {
	return (&Interpreter{}).Incident(ctx, in)
}

// Incident is IncidentWorkflow with the interpreter's authorizer.
func (ip *Interpreter) Incident(ctx workflow.Context, in IncidentInput) (IncidentState, error) {
	version := workflow.GetVersion(ctx, authzVersion, workflow.DefaultVersion, 1)
	r := newRun(ctx, in)
	r.authzOn = version >= 1
	r.authz = ip.authorizer()
	runCtx, cancel := workflow.WithCancel(ctx)
	r.cancel = cancel
	if err := r.registerHandlers(ctx); err != nil {
		return r.snapshot(), err
	}
	// The start is verified before anything else is recorded, so the
	// opening names who (as proven) started the incident.
	var refusal *authz.Refusal
	if r.authzOn {
		refusal = r.checkStart(ctx)
	}
	if in.Audit {
		// Queued, not awaited: the first step starts at once and the
		// writer records the opening alongside it.
		r.audit = startAuditWriter(ctx, in)
		r.record(ctx, openedFactVerified(in, r.st.StartedByVerified))
	}
	evidence := workflow.GetSignalChannel(ctx, SignalEvidence)
	workflow.Go(ctx, func(gctx workflow.Context) {
		for {
			var ev Evidence
			evidence.Receive(gctx, &ev)
			r.takeEvidence(gctx, ev)
		}
	})
	// The batch channel has its own coroutine, started after the single
	// one and issuing no command while it waits, so histories recorded
	// before the batch signal existed replay unchanged. Neither handler
	// blocks between receiving and recording, so a batch is taken whole,
	// in its order, in the workflow task that delivered it.
	evidenceBatch := workflow.GetSignalChannel(ctx, SignalEvidenceBatch)
	workflow.Go(ctx, func(gctx workflow.Context) {
		for {
			var batch []Evidence
			evidenceBatch.Receive(gctx, &batch)
			r.takeEvidenceBatch(gctx, batch)
		}
	})

	r.st.Status = StatusRunning
	var final outcome
	if refusal != nil {
		final = r.refuseStart(ctx, *refusal)
	} else if err := checkRunbook(in.Runbook); err != nil {
		final = outcome{End: StatusFailed, Err: err.Error()}
	}
	for _, st := range in.Runbook.Steps {
		if final.End != "" {
			break
		}
		final = r.runStep(runCtx, st)
	}
	if runCtx.Err() != nil {
		final = abortedOutcome
	}
	if final.End == StatusFailed && final.Compensate {
		if failures := r.compensate(runCtx); len(failures) > 0 {
			final.Err += "; " + strings.Join(failures, "; ")
		}
		if runCtx.Err() != nil {
			final = abortedOutcome
		}
	}
	r.finish(ctx, final)

	// Keep evidence that arrived in the last workflow task: single signals
	// first, then batches (a fixed order, so replay agrees).
	for {
		var ev Evidence
		if !evidence.ReceiveAsync(&ev) {
			break
		}
		r.takeEvidence(ctx, ev)
	}
	for {
		var batch []Evidence
		if !evidenceBatch.ReceiveAsync(&batch) {
			break
		}
		r.takeEvidenceBatch(ctx, batch)
	}
	if r.audit != nil {
		r.record(ctx, closedFact(r.st.Status, r.st.Error))
		r.audit.wait(ctx)
	}
	return r.snapshot(), nil
}

// finish sets the incident's final status and closes the steps that never
// ran: aborted on abort, skipped (with the reason) otherwise.
func (r *run) finish(ctx workflow.Context, final outcome) {
	status := final.End
	if status == "" {
		status = StatusSucceeded
	}
	if status == StatusAborted {
		switch {
		case r.abortedBy != "":
			r.st.AbortedBy = r.abortedBy
			r.st.Error = "aborted by " + r.abortedBy
			if r.abortNote != "" {
				r.st.Error += ": " + r.abortNote
			}
		default:
			r.st.Error = "workflow cancelled"
		}
	} else {
		r.st.Error = final.Err
	}
	for _, ss := range r.order {
		switch {
		case status == StatusAborted && (ss.Status == StatusPending || ss.Status == StatusRunning || ss.Status == StatusWaiting):
			r.end(ctx, ss, StatusAborted)
		case ss.Status == StatusPending:
			ss.Summary = fmt.Sprintf("not run: incident %s", status)
			r.end(ctx, ss, StatusSkipped)
		}
	}
	now := workflow.Now(ctx)
	r.st.Status = status
	r.st.EndedAt = &now
	workflow.GetLogger(ctx).Info("incident finished", "incident", r.in.IncidentID, "runbook", r.in.Runbook.Name, "status", string(status))
}

// registerHandlers installs the state query and the approve, deny and abort
// updates. Validators reject bad requests before they are written to
// history; handlers only record the decision, the interpreter acts on it.
func (r *run) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (IncidentState, error) {
		return r.snapshot(), nil
	}); err != nil {
		return err
	}
	decision := func(approve bool) error {
		name := UpdateDeny
		if approve {
			name = UpdateApprove
		}
		return workflow.SetUpdateHandlerWithOptions(ctx, name,
			func(ctx workflow.Context, d Decision) error { return r.decide(ctx, d, approve) },
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, d Decision) error {
				verb := authz.VerbDeny
				if approve {
					verb = authz.VerbApprove
				}
				g, err := r.validateDecision(ctx, d, verb)
				if err == nil && !r.authzOn {
					err = r.legacySigned(r.decisionRequest(ctx, g, d, verb), d)
				}
				return err
			}})
	}
	if err := decision(true); err != nil {
		return err
	}
	if err := decision(false); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateAbort,
		func(ctx workflow.Context, d Decision) error { return r.abort(ctx, d) },
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, d Decision) error {
			if err := r.abortable(d); err != nil {
				return err
			}
			if r.authzOn {
				_, err := r.check(r.abortRequest(ctx, d), func(v authz.Verified) error { return r.singleUse(v, d, nil) })
				return err
			}
			return r.legacySigned(r.abortRequest(ctx, d), d)
		}})
}

// legacySigned is the validator's check for incidents started before
// authorization existed (version DefaultVersion): they record the claimed
// identity as they always did — their handlers must replay unchanged — but
// only once a signed statement proves it, so an incident in flight at the
// upgrade (a hold gate never times out) takes no unsigned decision either.
// Only validators call it: they are not replayed.
func (r *run) legacySigned(req authz.Request, d Decision) error {
	v, err := r.check(req, nil)
	if err != nil {
		return err
	}
	if d.Identity != v.Operator {
		return &authz.Refusal{Verb: req.Verb, Operator: d.Identity, Reason: fmt.Sprintf("the decision names %q but %s signed it", d.Identity, v.Operator)}
	}
	return nil
}

// abortable is the abort rule that needs no authorizer.
func (r *run) abortable(d Decision) error {
	if r.terminal() {
		return fmt.Errorf("incident %s has already ended (%s)", r.in.IncidentID, r.st.Status)
	}
	if !r.authzOn && strings.TrimSpace(d.Identity) == "" {
		return fmt.Errorf("an identity is required to abort")
	}
	if r.abortedBy != "" {
		return fmt.Errorf("incident %s is already being aborted by %s", r.in.IncidentID, r.abortedBy)
	}
	return nil
}

// abort is the abort handler: since authz it re-checks inside a
// SideEffect and records who aborted, as proven.
func (r *run) abort(ctx workflow.Context, d Decision) error {
	if err := r.abortable(d); err != nil {
		return err
	}
	if !r.authzOn {
		r.abortedBy, r.abortNote = d.Identity, d.Comment
		r.cancel() // cancels running activities and waiting gates
		return nil
	}
	res := r.recordedCheck(ctx, r.abortRequest(ctx, d), func(v authz.Verified) error { return r.singleUse(v, d, nil) })
	if res.Refusal != nil {
		r.refused(ctx, *res.Refusal, "")
		return res.Refusal
	}
	v := *res.Verified
	r.accept(v)
	r.st.AbortedByVerified = &v
	r.abortedBy, r.abortNote = v.Operator, v.Comment // the signed comment only
	r.cancel()
	return nil
}
