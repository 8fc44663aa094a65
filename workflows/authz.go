package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// authzVersion gates authorization (workflow.GetVersion): from version 1 an
// incident verifies its start and every approve, deny and abort with the
// worker's authz.Authorizer, gates text their approvers, and holds never
// hold pages. Histories recorded before it replay with the earlier rules
// (claimed identities, the input's Approvers list).
const authzVersion = "authz"

// AuditAuthzRefused is the fact of a refused attempt the workflow itself
// refused after acceptance: its start, or a decision refused by the
// handler's re-check (validators' refusals leave no history; the worker's
// authz.Live.OnRefusal records those).
const AuditAuthzRefused = "authz.refused"

// Interpreter is the incident workflow bound to the worker's authorizer.
// Register registers its Incident method; the authorizer is consulted only
// by Update validators (never replayed) and inside workflow.SideEffect
// (recorded), so replay never calls it.
type Interpreter struct {
	Authz authz.Authorizer
}

// refuseAll is the authorizer of an Interpreter without one (the
// package-level IncidentWorkflow that replay tests register): it refuses
// everything, should anything ever ask.
type refuseAll struct{}

func (refuseAll) Authorize(req authz.Request) (authz.Verified, error) {
	return authz.Verified{}, &authz.Refusal{Verb: req.Verb, Reason: "this worker has no authorizer configured"}
}

func (ip *Interpreter) authorizer() authz.Authorizer {
	if ip == nil || ip.Authz == nil {
		return refuseAll{}
	}
	return ip.Authz
}

// authzResult is what the SideEffect of an authorization check records in
// history: who was verified, or why the attempt was refused. Plain data,
// no secrets (a TOTP or SMS code is never in Verified).
type authzResult struct {
	Verified *authz.Verified `json:"verified,omitempty"`
	Refusal  *authz.Refusal  `json:"refusal,omitempty"`
}

func refusalOf(req authz.Request, err error) *authz.Refusal {
	var rf *authz.Refusal
	if errors.As(err, &rf) {
		return rf
	}
	return &authz.Refusal{Verb: req.Verb, Reason: err.Error()}
}

// check asks the authorizer, then the run's own single-use rules (extra).
// Validators call it directly; handlers through recordedCheck.
func (r *run) check(req authz.Request, extra func(authz.Verified) error) (authz.Verified, error) {
	v, err := r.authz.Authorize(req)
	if err != nil {
		return authz.Verified{}, refusalOf(req, err)
	}
	if extra != nil {
		if err := extra(v); err != nil {
			rf := refusalOf(req, err)
			// The authorizer accepted it, so it has not reported it: a
			// validator's refusal leaves no history, the report is its record.
			if rep, ok := r.authz.(interface {
				Refused(authz.Request, *authz.Refusal)
			}); ok {
				rep.Refused(req, rf)
			}
			return authz.Verified{}, rf
		}
	}
	return v, nil
}

// recordedCheck runs check inside workflow.SideEffect, so the verified
// identity (or the refusal) is in history and replay reads it back instead
// of asking the authorizer. An accepted TOTP step is consumed there too
// (authz.Live remembers it across runs), and only there: replay does not
// consume again.
func (r *run) recordedCheck(ctx workflow.Context, req authz.Request, extra func(authz.Verified) error) authzResult {
	enc := workflow.SideEffect(ctx, func(workflow.Context) any {
		v, err := r.check(req, extra)
		if err != nil {
			return authzResult{Refusal: refusalOf(req, err)}
		}
		if c, ok := r.authz.(interface{ Consume(authz.Verified) }); ok {
			c.Consume(v)
		}
		return authzResult{Verified: &v}
	})
	var res authzResult
	if err := enc.Get(&res); err != nil || (res.Verified == nil && res.Refusal == nil) {
		return authzResult{Refusal: &authz.Refusal{Verb: req.Verb, Reason: "the recorded authorization cannot be read"}}
	}
	return res
}

// accept remembers what a verified statement used up in this run: its
// nonce, and its TOTP time step for the operator.
func (r *run) accept(v authz.Verified) {
	if v.Nonce != "" {
		r.nonces[v.Nonce] = true
	}
	if v.Factor == authz.FactorTOTP && v.FactorStep > r.totpSteps[v.Operator] {
		r.totpSteps[v.Operator] = v.FactorStep
	}
}

// singleUse refuses what this run has already accepted: the statement
// itself (its nonce), the operator's TOTP step, the operator's answer to
// the same gate (g may be nil), and a Decision.Identity naming someone
// other than the signer.
func (r *run) singleUse(v authz.Verified, d Decision, g *gate) error {
	refuse := func(f string, a ...any) error {
		return &authz.Refusal{Verb: v.Verb, Operator: v.Operator, Reason: fmt.Sprintf(f, a...)}
	}
	if id := strings.TrimSpace(d.Identity); id != "" && id != v.Operator && (v.Via == "" || id != v.Via) {
		return refuse("the decision names %q but is signed by %s", id, v.Operator)
	}
	if r.nonces[v.Nonce] {
		return refuse("this signed statement (nonce %s) was already used in this run: sign a new one", v.Nonce)
	}
	if v.Factor == authz.FactorTOTP {
		if last, seen := r.totpSteps[v.Operator]; seen && v.FactorStep <= last {
			return refuse("this TOTP code (or a later one) was already used in this run: wait for the next code")
		}
	}
	if g != nil {
		for _, a := range g.verified {
			if a.Operator == v.Operator {
				return refuse("%s already %s gate %s; it requires %d different approvers", v.Operator, pastTense(a.Verb), g.id, g.require)
			}
		}
	}
	return nil
}

func pastTense(v authz.Verb) string {
	switch v {
	case authz.VerbApprove:
		return "approved"
	case authz.VerbDeny:
		return "denied"
	}
	return "answered"
}

// refused keeps a refusal the workflow made after acceptance in the state
// and the audit trail.
func (r *run) refused(ctx workflow.Context, rf authz.Refusal, step string) {
	r.st.Refusals = append(r.st.Refusals, rf)
	key := fmt.Sprintf("authz/refused/%s/%d", rf.Verb, len(r.st.Refusals))
	if rf.Verb == authz.VerbExec && step == "" {
		key = "authz/refused/start"
	}
	r.record(ctx, AuditFact{Kind: AuditAuthzRefused, Step: step, Actor: rf.Operator, Key: key,
		Attrs: map[string]string{"verb": string(rf.Verb), "operator": rf.Operator, "reason": rf.Reason}})
}

// StartStatement is what the statement allowing in's start must say: every
// starter (exec, the engine's event and fleet starts, drills) signs it with
// its own operator, times and nonce, and the workflow checks the start
// against the same binding, computed from its own input.
func StartStatement(in IncidentInput) authz.Statement {
	return authz.Statement{
		Verb:        authz.VerbExec,
		Incident:    in.IncidentID,
		Runbook:     in.Runbook.Name,
		RunbookHash: in.RunbookHash,
		Definition:  runbooks.DefinitionDigest(in.Runbook, in.Actions),
		Inputs:      authz.StartHash(in.Inputs, in.Event),
		Options: authz.DataHash(map[string]any{"hold": in.HoldIrreversible, "hold_reason": in.HoldIrreversibleReason,
			"audit": in.Audit}),
		Trigger: in.Trigger,
	}
}

// startRequest is the exec check of this incident's start: what runs, as
// the input says (the definition digest computed here, not taken from the
// statement), and the statement that allows it.
func (r *run) startRequest(ctx workflow.Context) authz.Request {
	st := StartStatement(r.in)
	return authz.Request{
		Verb:        authz.VerbExec,
		Incident:    st.Incident,
		Runbook:     st.Runbook,
		RunbookHash: st.RunbookHash,
		Definition:  st.Definition,
		Inputs:      st.Inputs,
		Options:     st.Options,
		Trigger:     st.Trigger,
		// The server's start time, not the first task's: a start the
		// engine signed and Temporal accepted stays valid however long it
		// queued for a worker (a breach while workers were down must still
		// be contained), and nobody can backdate it.
		Now:    workflow.GetInfo(ctx).WorkflowStartTime,
		Signed: r.in.Authorization,
	}
}

// checkStart verifies the start before the first step (recorded). It
// returns the refusal, or nil with StartedByVerified set.
func (r *run) checkStart(ctx workflow.Context) *authz.Refusal {
	res := r.recordedCheck(ctx, r.startRequest(ctx), nil)
	if res.Refusal != nil {
		return res.Refusal
	}
	v := *res.Verified
	r.accept(v)
	r.st.StartedByVerified = &v
	return nil
}

// refuseStart fails the incident closed: nothing runs, every step is
// skipped with the reason.
func (r *run) refuseStart(ctx workflow.Context, rf authz.Refusal) outcome {
	msg := "start refused: " + rf.Reason
	r.refused(ctx, rf, "")
	for _, ss := range r.order {
		if ss.Status == StatusPending {
			ss.Summary = "not run: " + msg
			r.end(ctx, ss, StatusSkipped)
		}
	}
	return outcome{End: StatusFailed, Err: msg}
}

// decisionRequest is the check of an approve or deny of gate g.
func (r *run) decisionRequest(ctx workflow.Context, g *gate, d Decision, verb authz.Verb) authz.Request {
	req := authz.Request{
		Verb:           verb,
		Incident:       r.in.IncidentID,
		Run:            r.runID,
		Step:           g.id,
		Group:          g.group,
		FactorIssuedAt: g.issuedAt,
		Now:            workflow.Now(ctx),
		Signed:         d.Signed,
	}
	if verb == authz.VerbApprove {
		req.SecondFactor = g.factor
	}
	return req
}

func (r *run) abortRequest(ctx workflow.Context, d Decision) authz.Request {
	return authz.Request{Verb: authz.VerbAbort, Incident: r.in.IncidentID, Run: r.runID, Now: workflow.Now(ctx), Signed: d.Signed}
}

// verifiedBy is the one-line form of several verified decisions.
func verifiedBy(vs []authz.Verified) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, ", ")
}

// askApprovers starts AskApproversActivity for a gate that begins waiting.
// The activity is scheduled now and awaited in its own coroutine, so the
// gate waits for decisions, never for the text; a failure is noted in the
// gate's summary.
func (r *run) askApprovers(ctx workflow.Context, g *gate, ss *StepState) {
	req := AskApproversRequest{Incident: r.in.IncidentID, Run: r.runID, Gate: g.id, Group: g.group,
		Message: ss.Summary, SecondFactor: g.factor, IssuedAt: g.issuedAt, Held: g.held}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ActivityID:          g.id + "/ask",
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Second, MaximumAttempts: 3},
		Summary: "ask approvers of " + g.group + " (" + g.id + ")",
	})
	f := workflow.ExecuteActivity(actx, AskApproversActivity, req)
	workflow.Go(ctx, func(gctx workflow.Context) {
		if err := f.Get(gctx, nil); err != nil && gctx.Err() == nil {
			ss.Summary = joinNote(ss.Summary, "approvers were not texted: "+errorText(err))
		}
	})
}
