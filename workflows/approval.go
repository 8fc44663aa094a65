package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
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
	return r.waitGate(ctx, &gate{id: st.ID, group: a.Group}, ss,
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
	return r.waitGate(ctx, &gate{id: gs.ID, group: HoldGroup, held: st.ID}, gs, gateSpec{group: HoldGroup})
}

// waitGate blocks until the gate is approved, denied or times out, or the
// incident is aborted.
func (r *run) waitGate(ctx workflow.Context, g *gate, ss *StepState, spec gateSpec) outcome {
	r.start(ctx, ss, StatusWaiting)
	r.record(ctx, approvalAskedFact(g.id, spec.group, ss.Summary))
	r.waiting = append(r.waiting, g)
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

// validateDecision is the approve/deny update validator: it runs before the
// update is accepted, so a rejected decision leaves no trace in history.
func (r *run) validateDecision(d Decision) (*gate, error) {
	if r.terminal() {
		return nil, fmt.Errorf("incident %s has already ended (%s)", r.in.IncidentID, r.st.Status)
	}
	if strings.TrimSpace(d.Identity) == "" {
		return nil, fmt.Errorf("an identity is required to approve or deny")
	}
	g, err := r.findGate(d.Step)
	if err != nil {
		return nil, err
	}
	if allowed, listed := r.in.Approvers[g.group]; listed && !slices.Contains(allowed, d.Identity) {
		return nil, fmt.Errorf("%q is not an approver of group %q for step %s", d.Identity, g.group, g.id)
	}
	return g, nil
}

// decide records an approve or deny; the waiting gate wakes up and acts.
func (r *run) decide(d Decision, approve bool) error {
	g, err := r.validateDecision(d)
	if err != nil {
		return err
	}
	dd := d
	g.decision, g.approved = &dd, approve
	return nil
}
