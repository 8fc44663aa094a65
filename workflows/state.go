package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// run is the interpreter's mutable state for one incident. Workflow
// coroutines are cooperative (one runs at a time, switching only at blocking
// calls), so the parallel branches and the update handlers share it without
// locks.
type run struct {
	in IncidentInput
	st IncidentState // Steps is rebuilt from order on every snapshot

	order  []*StepState          // display order, implicit gates included
	byID   map[string]*StepState // every step, implicit gates included
	specs  map[string]runbooks.Step
	policy map[string]runbooks.OnFailure // effective on_failure per step

	params    map[string]map[string]any // rendered params of succeeded steps (for compensation)
	completed []string                  // succeeded action steps in completion order

	waiting []*gate // approval gates waiting now, in the order they started

	abortedBy string
	abortNote string
	cancel    workflow.CancelFunc

	// seen holds the event ids of evidence already taken (the trigger
	// event's included), oldest first in seenOrder, at most
	// seenEvidenceLimit of them.
	seen      map[string]struct{}
	seenOrder []string

	audit *auditWriter // nil unless IncidentInput.Audit

	// runID tells apart runs of one incident id (templates see it as
	// incident.run_id, e.g. to label a key per rotation).
	runID string

	// authzOn is workflow version authzVersion 1: starts and decisions are
	// verified with authz (never asked on replay: validators are not
	// replayed and handlers read the SideEffect back).
	authzOn bool
	authz   authz.Authorizer
	// nonces and totpSteps are what this run's accepted statements used
	// up: a nonce is good once, a TOTP step once per operator.
	nonces    map[string]bool
	totpSteps map[string]int64
}

// seenEvidenceLimit bounds the evidence ids remembered for deduplication.
// It is larger than MaxEvidence because a redelivery may arrive after the
// event it repeats has been let go from the state.
const seenEvidenceLimit = 4 * MaxEvidence

func newRun(ctx workflow.Context, in IncidentInput) *run {
	r := &run{
		in:     in,
		byID:   map[string]*StepState{},
		specs:  map[string]runbooks.Step{},
		policy: map[string]runbooks.OnFailure{},
		params: map[string]map[string]any{},
		seen:   map[string]struct{}{},
		runID:  workflow.GetInfo(ctx).WorkflowExecution.RunID,
		authz:  refuseAll{},

		nonces:    map[string]bool{},
		totpSteps: map[string]int64{},
		st: IncidentState{
			IncidentID:  in.IncidentID,
			Runbook:     in.Runbook.Name,
			RunbookHash: in.RunbookHash,
			Status:      StatusPending,
			Trigger:     in.Trigger,
			StartedAt:   workflow.Now(ctx),
		},
	}
	r.addSteps(in.Runbook.Steps, "", "")
	// SignalWithStart delivers the trigger event as evidence too: it is
	// already in the input, so that signal is not new evidence.
	if id := eventString(in.Event, "id"); id != "" {
		r.markSeen(id)
	}
	return r
}

// addSteps flattens the runbook into pending StepStates. Children of a
// parallel group inherit the group's on_failure unless they set their own.
func (r *run) addSteps(steps []runbooks.Step, parent string, inherited runbooks.OnFailure) {
	for _, s := range steps {
		ss := &StepState{ID: s.ID, Kind: s.Kind(), Action: s.Action, Parent: parent, Status: StatusPending}
		if s.Kind() == runbooks.StepAction {
			ss.SideEffect = r.sideEffect(s.Action)
		}
		pol := s.OnFailure
		if pol == "" {
			pol = inherited
		}
		if pol == "" {
			pol = runbooks.OnFailureAbort
		}
		r.order = append(r.order, ss)
		if _, dup := r.byID[s.ID]; !dup { // duplicates are reported by checkRunbook
			r.byID[s.ID] = ss
			r.specs[s.ID] = s
			r.policy[s.ID] = pol
		}
		if s.Kind() == runbooks.StepParallel {
			r.addSteps(s.Parallel, s.ID, s.OnFailure)
		}
	}
}

// checkRunbook catches what would make the interpreter misbehave. The loader
// validates runbooks properly; this guards the workflow against a starter
// that skipped validation.
func checkRunbook(rb runbooks.Runbook) error {
	if len(rb.Steps) == 0 {
		return fmt.Errorf("runbook %q has no steps", rb.Name)
	}
	seen := map[string]bool{}
	var walk func([]runbooks.Step) error
	walk = func(steps []runbooks.Step) error {
		for _, s := range steps {
			if s.ID == "" {
				return fmt.Errorf("a step has no id")
			}
			if seen[s.ID] {
				return fmt.Errorf("step id %q is used twice", s.ID)
			}
			seen[s.ID] = true
			if s.Kind() == runbooks.StepAction && s.Action == "" {
				return fmt.Errorf("step %q has no action, parallel or approval", s.ID)
			}
			if err := walk(s.Parallel); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(rb.Steps)
}

// sideEffect is the action's class; an action the starter did not describe
// counts as irreversible so that holds and dry runs err on the safe side.
func (r *run) sideEffect(action string) runbooks.SideEffect {
	if m, ok := r.in.Actions[action]; ok && m.SideEffect != "" {
		return m.SideEffect
	}
	return runbooks.Irreversible
}

// insertBefore adds a step (an implicit approval gate) just before another
// in display order.
func (r *run) insertBefore(ss *StepState, before string) {
	i := slices.IndexFunc(r.order, func(s *StepState) bool { return s.ID == before })
	if i < 0 {
		i = len(r.order)
	}
	r.order = slices.Insert(r.order, i, ss)
	r.byID[ss.ID] = ss
}

// scope is what templates and conditions see: inputs, the trigger event,
// every step's status and (redacted) outputs, and the incident itself.
func (r *run) scope() runbooks.Scope {
	steps := make(map[string]runbooks.StepScope, len(r.byID))
	for _, ss := range r.order {
		steps[ss.ID] = runbooks.StepScope{Status: string(ss.Status), Outputs: ss.Outputs}
	}
	return runbooks.Scope{
		Inputs: r.in.Inputs,
		Event:  r.in.Event,
		Steps:  steps,
		Incident: map[string]any{
			"id":      r.in.IncidentID,
			"runbook": r.in.Runbook.Name,
			"trigger": r.in.Trigger,
			"run_id":  r.runID,
		},
	}
}

// terminal reports whether the incident has ended.
func (r *run) terminal() bool {
	switch r.st.Status {
	case StatusSucceeded, StatusFailed, StatusAborted, StatusDenied:
		return true
	}
	return false
}

// snapshot is a copy of the state for the query and the result, so callers
// never share maps or slices with the running interpreter.
func (r *run) snapshot() IncidentState {
	out := r.st
	if out.Status == StatusRunning && len(r.waiting) > 0 {
		out.Status = StatusWaiting
	}
	if r.st.EndedAt != nil {
		t := *r.st.EndedAt
		out.EndedAt = &t
	}
	out.Steps = make([]StepState, len(r.order))
	for i, ss := range r.order {
		out.Steps[i] = copyStep(ss)
	}
	out.Evidence = slices.Clone(r.st.Evidence)
	if r.audit != nil && r.audit.head != nil {
		h := *r.audit.head
		out.AuditHead = &h
	}
	return out
}

func copyStep(ss *StepState) StepState {
	c := *ss
	if ss.StartedAt != nil {
		t := *ss.StartedAt
		c.StartedAt = &t
	}
	if ss.EndedAt != nil {
		t := *ss.EndedAt
		c.EndedAt = &t
	}
	if ss.Outputs != nil {
		c.Outputs = make(map[string]any, len(ss.Outputs))
		for k, v := range ss.Outputs {
			c.Outputs[k] = v
		}
	}
	if ss.Compensation != nil {
		comp := copyStep(ss.Compensation)
		c.Compensation = &comp
	}
	return c
}

// addEvidence appends a later event, keeping the newest MaxEvidence. An
// event whose id was seen before (the trigger event, a redelivered NATS
// message) is ignored and addEvidence returns false.
func (r *run) addEvidence(ev Evidence) bool {
	if ev.EventID != "" {
		if _, dup := r.seen[ev.EventID]; dup {
			return false
		}
		r.markSeen(ev.EventID)
	}
	r.st.Evidence = append(r.st.Evidence, ev)
	if over := len(r.st.Evidence) - MaxEvidence; over > 0 {
		r.st.Evidence = slices.Delete(r.st.Evidence, 0, over)
		r.st.EvidenceDropped += over
	}
	return true
}

// markSeen remembers an evidence id, forgetting the oldest beyond
// seenEvidenceLimit.
func (r *run) markSeen(id string) {
	r.seen[id] = struct{}{}
	r.seenOrder = append(r.seenOrder, id)
	if over := len(r.seenOrder) - seenEvidenceLimit; over > 0 {
		for _, old := range r.seenOrder[:over] {
			delete(r.seen, old)
		}
		r.seenOrder = slices.Delete(r.seenOrder, 0, over)
	}
}

// start marks a step running now.
func (r *run) start(ctx workflow.Context, ss *StepState, status Status) {
	now := workflow.Now(ctx)
	ss.Status = status
	ss.StartedAt = &now
}

// end marks a step finished now with the given status.
func (r *run) end(ctx workflow.Context, ss *StepState, status Status) {
	now := workflow.Now(ctx)
	ss.Status = status
	ss.EndedAt = &now
	workflow.GetLogger(ctx).Info("step finished", "incident", r.in.IncidentID, "step", ss.ID, "status", string(status))
	if status == StatusSkipped {
		// Every skip sets the reason as the summary first: a false
		// condition, a skipped group, a gate timeout with on_timeout:
		// skip, or the incident ending before the step ran.
		r.record(ctx, skippedFact(ss.ID, ss.Summary))
	}
}
