package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// HoldGroup is the approver group of the implicit gates HoldIrreversible
// inserts before irreversible steps.
const HoldGroup = "oncall"

// holdSuffix names an implicit gate after the step it holds ("revoke.hold").
const holdSuffix = ".hold"

// gate is an approval gate that is waiting for a decision.
type gate struct {
	id       string
	group    string
	held     string // the step an implicit hold gate guards, else ""
	decision *Decision
	approved bool

	// Since authz: distinct approvals needed, the second factor each
	// needs, when the gate started waiting (its SMS codes' issue time),
	// and the verified decisions taken so far.
	require  int
	factor   string
	issuedAt time.Time
	verified []authz.Verified
}

type gateSpec struct {
	group     string
	timeout   time.Duration
	onTimeout runbooks.OnTimeout
}

// runApproval runs an approval step written in the runbook.
func (r *run) runApproval(ctx workflow.Context, st runbooks.Step) outcome {
	a := st.Approval
	ss := r.byID[st.ID]
	// The message may template inputs and earlier outputs ("Unfreeze
	// ${{ inputs.bot }}?"); on a render error the raw text is kept rather
	// than failing the gate.
	ss.Summary = a.Message
	if v, err := runbooks.RenderString(a.Message, r.scope()); err == nil {
		if msg, ok := v.(string); ok {
			ss.Summary = msg
		}
	}
	require := a.Require
	if require < 1 {
		require = 1
	}
	return r.waitGate(ctx, &gate{id: st.ID, group: a.Group, require: require, factor: a.SecondFactor}, ss,
		gateSpec{group: a.Group, timeout: a.Timeout.D(), onTimeout: a.OnTimeout})
}

// holdBefore inserts and waits for an implicit gate before an irreversible
// step (HoldIrreversible, e.g. when a blast-radius limit was exceeded). It
// has no timeout: the step only runs once a person says so.
func (r *run) holdBefore(ctx workflow.Context, st runbooks.Step) outcome {
	held := r.byID[st.ID]
	reason := r.in.HoldIrreversibleReason
	if reason == "" {
		reason = "irreversible steps are held for approval"
	}
	gs := &StepState{
		ID:      st.ID + holdSuffix,
		Kind:    runbooks.StepApproval,
		Parent:  held.Parent,
		Status:  StatusPending,
		Summary: fmt.Sprintf("hold before irreversible step %s (%s): %s", st.ID, st.Action, reason),
	}
	r.insertBefore(gs, st.ID)
	g := &gate{id: gs.ID, group: HoldGroup, held: st.ID, require: 1}
	if h := r.in.Runbook.Hold; h != nil && r.authzOn {
		// The runbook's hold rule (e.g. a fleet's per-bot starts past the
		// cap: two people and a TOTP code).
		g.require, g.factor = max(h.Require, 1), h.SecondFactor
	}
	return r.waitGate(ctx, g, gs, gateSpec{group: HoldGroup})
}

// waitGate blocks until the gate is approved, denied or times out, or the
// incident is aborted.
func (r *run) waitGate(ctx workflow.Context, g *gate, ss *StepState, spec gateSpec) outcome {
	r.start(ctx, ss, StatusWaiting)
	g.issuedAt = *ss.StartedAt
	r.record(ctx, approvalAskedFact(g.id, spec.group, ss.Summary))
	r.waiting = append(r.waiting, g)
	if r.authzOn {
		r.askApprovers(ctx, g, ss)
	}
	decided := func() bool { return g.decision != nil }
	var ok bool
	var err error
	if spec.timeout > 0 {
		ok, err = workflow.AwaitWithTimeout(ctx, spec.timeout, decided)
	} else {
		err = workflow.Await(ctx, decided)
		ok = err == nil
	}
	r.waiting = slices.DeleteFunc(r.waiting, func(w *gate) bool { return w == g })

	switch {
	case err != nil: // cancelled: the incident was aborted
		r.end(ctx, ss, StatusAborted)
		return abortedOutcome
	case ok && r.authzOn:
		return r.decidedVerified(ctx, g, ss)
	case ok && g.approved:
		ss.DecidedBy, ss.Comment = g.decision.Identity, g.decision.Comment
		r.record(ctx, approvalDecidedFact(g.id, ss.DecidedBy, ss.Comment, true))
		r.end(ctx, ss, StatusSucceeded)
		return outcome{}
	case ok:
		ss.DecidedBy, ss.Comment = g.decision.Identity, g.decision.Comment
		r.record(ctx, approvalDecidedFact(g.id, ss.DecidedBy, ss.Comment, false))
		ss.Error = "denied by " + g.decision.Identity
		r.end(ctx, ss, StatusDenied)
		return outcome{End: StatusDenied, Err: fmt.Sprintf("step %s denied by %s", g.id, g.decision.Identity)}
	}
	note := fmt.Sprintf("no decision within %s", spec.timeout)
	switch spec.onTimeout {
	case runbooks.OnTimeoutContinue:
		ss.Summary = joinNote(ss.Summary, note+": continued (on_timeout: continue)")
		r.end(ctx, ss, StatusSucceeded)
		return outcome{}
	case runbooks.OnTimeoutSkip:
		ss.Summary = joinNote(ss.Summary, note+": skipped (on_timeout: skip)")
		r.end(ctx, ss, StatusSkipped)
		return outcome{}
	default:
		ss.Error = note
		r.end(ctx, ss, StatusFailed)
		return outcome{End: StatusFailed, Err: fmt.Sprintf("approval %s: %s (on_timeout: abort)", g.id, note)}
	}
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + " — " + b
}

// findGate resolves Decision.Step to a waiting gate. Empty means "the one
// that waits"; an implicit gate also answers to the name of the step it
// holds.
func (r *run) findGate(step string) (*gate, error) {
	open := r.undecided()
	if len(open) == 0 {
		return nil, fmt.Errorf("no approval gate is waiting in incident %s", r.in.IncidentID)
	}
	if step == "" {
		if len(open) > 1 {
			return nil, fmt.Errorf("%d approval gates are waiting (%s): name one with its step id", len(open), r.waitingIDs())
		}
		return open[0], nil
	}
	for _, g := range open {
		if g.id == step || (g.held != "" && g.held == step) {
			return g, nil
		}
	}
	return nil, fmt.Errorf("step %q is not waiting for approval (waiting: %s)", step, r.waitingIDs())
}

// undecided are the waiting gates nobody has answered yet (a decided gate
// stays in waiting until its coroutine wakes up).
func (r *run) undecided() []*gate {
	var open []*gate
	for _, g := range r.waiting {
		if g.decision == nil {
			open = append(open, g)
		}
	}
	return open
}

func (r *run) waitingIDs() string {
	var ids []string
	for _, g := range r.undecided() {
		ids = append(ids, g.id)
	}
	return strings.Join(ids, ", ")
}

// decidedVerified closes a gate decided by verified decisions: DecidedBy
// names who (as proven) approved it — every one of them under require: N —
// or who denied it.
func (r *run) decidedVerified(ctx workflow.Context, g *gate, ss *StepState) outcome {
	want := authz.VerbDeny
	if g.approved {
		want = authz.VerbApprove
	}
	var deciding []authz.Verified
	var comments, names []string
	for _, v := range g.verified {
		if v.Verb == want {
			deciding = append(deciding, v)
			names = append(names, v.Operator)
		}
		if v.Comment != "" {
			comments = append(comments, v.Comment)
		}
	}
	// Only signed comments: Decision.Comment is unsigned, and anyone who
	// relays a genuine decision could otherwise put words in its mouth.
	ss.Approvals = slices.Clone(g.verified)
	ss.DecidedBy, ss.Comment = verifiedBy(deciding), strings.Join(comments, "; ")
	f := approvalDecidedFact(g.id, strings.Join(names, ", "), ss.Comment, g.approved)
	verifiedAttrs(f.Attrs, deciding)
	if g.require > 1 {
		f.Attrs["require"] = fmt.Sprint(g.require)
	}
	r.record(ctx, f)
	if g.approved {
		r.end(ctx, ss, StatusSucceeded)
		return outcome{}
	}
	// Names only in error texts: they reach the audit trail, whose
	// redactor would cut a fingerprint out of free text.
	who := strings.Join(names, ", ")
	ss.Error = "denied by " + who
	r.end(ctx, ss, StatusDenied)
	return outcome{End: StatusDenied, Err: fmt.Sprintf("step %s denied by %s", g.id, who)}
}

// validateDecision is the approve/deny update validator: it runs before the
// update is accepted, so a rejected decision leaves no trace in history.
// Since authz it verifies the signed statement with the worker's authorizer
// (validators are not replayed, so asking the live roster is safe).
func (r *run) validateDecision(ctx workflow.Context, d Decision, verb authz.Verb) (*gate, error) {
	if r.terminal() {
		return nil, fmt.Errorf("incident %s has already ended (%s)", r.in.IncidentID, r.st.Status)
	}
	if !r.authzOn && strings.TrimSpace(d.Identity) == "" {
		return nil, fmt.Errorf("an identity is required to approve or deny")
	}
	g, err := r.findGate(d.Step)
	if err != nil {
		return nil, err
	}
	if r.authzOn {
		_, err := r.check(r.decisionRequest(ctx, g, d, verb), func(v authz.Verified) error { return r.singleUse(v, d, g) })
		return g, err
	}
	if allowed, listed := r.in.Approvers[g.group]; listed && !slices.Contains(allowed, d.Identity) {
		return nil, fmt.Errorf("%q is not an approver of group %q for step %s", d.Identity, g.group, g.id)
	}
	return g, nil
}

// decide records an approve or deny; the waiting gate wakes up and acts.
// Since authz the handler checks again inside a SideEffect, which puts the
// verified identity in history; a gate needing N approvals is decided by
// the Nth distinct approver, a deny decides at once.
func (r *run) decide(ctx workflow.Context, d Decision, approve bool) error {
	verb := authz.VerbDeny
	if approve {
		verb = authz.VerbApprove
	}
	if !r.authzOn {
		g, err := r.validateDecision(ctx, d, verb)
		if err != nil {
			return err
		}
		dd := d
		g.decision, g.approved = &dd, approve
		return nil
	}
	if r.terminal() {
		return fmt.Errorf("incident %s has already ended (%s)", r.in.IncidentID, r.st.Status)
	}
	g, err := r.findGate(d.Step)
	if err != nil {
		return err
	}
	res := r.recordedCheck(ctx, r.decisionRequest(ctx, g, d, verb), func(v authz.Verified) error { return r.singleUse(v, d, g) })
	if res.Refusal != nil {
		r.refused(ctx, *res.Refusal, g.id)
		return res.Refusal
	}
	v := *res.Verified
	r.accept(v)
	g.verified = append(g.verified, v)
	if ss := r.byID[g.id]; ss != nil {
		ss.Approvals = slices.Clone(g.verified) // the state query shows 1 of 2
	}
	approvals := 0
	for _, a := range g.verified {
		if a.Verb == authz.VerbApprove {
			approvals++
		}
	}
	if !approve || approvals >= g.require {
		dd := d
		g.decision, g.approved = &dd, approve
	}
	return nil
}
