package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// The drill controller. Drill schedules are Temporal Schedules, and anyone
// who can reach Temporal can change one; the CLI therefore never calls the
// schedule API itself. It sends a signed statement as an Update to this
// one workflow per namespace, whose validators check it against the
// worker's roster before anything reaches history, and whose handlers make
// the schedule call in an activity and audit who made it.
const (
	DrillControllerWorkflowName = "runbook.drills"
	// DrillControllerID is the controller's fixed workflow id: one per
	// namespace, started by the worker when absent.
	DrillControllerID = "runbook.drills"

	// DrillScheduleCallActivity makes the Temporal schedule call of an
	// accepted change (DrillScheduleCall → result word). The worker
	// registers it (cmd/runbook/drill_activities.go).
	DrillScheduleCallActivity = "drill.schedule_call"
	// DrillSignStartActivity signs, with the engine's key, the exec
	// statement a drill's child incident starts with
	// (DrillSignStartRequest → authz.Signed).
	DrillSignStartActivity = "drill.sign_start"

	// AuditDrillChanged records an accepted drill change under the
	// schedule id (events/audit.DrillChanged): actor = the verified
	// operator; attrs verb, result, fingerprint, policy, note.
	AuditDrillChanged = "drill.changed"

	// RefusalErrorType is the ApplicationError type of a refused change:
	// its message is the refusal's reason (what the CLI prints).
	RefusalErrorType = "authz.Refusal"

	// drillControllerMaxUpdates bounds one run's history: after that many
	// accepted changes the controller continues as new.
	drillControllerMaxUpdates = 200
)

// DrillVerbs are the controller's Updates, named as the verbs they check.
var DrillVerbs = []authz.Verb{authz.VerbDrillSchedule, authz.VerbDrillPause, authz.VerbDrillUnpause,
	authz.VerbDrillDelete, authz.VerbDrillTrigger}

// DrillSpec is when a schedule runs: an interval, a cron expression (UTC),
// or both, with a random delay added to each run.
type DrillSpec struct {
	Every  time.Duration `json:"every,omitempty"`
	Cron   string        `json:"cron,omitempty"`
	Jitter time.Duration `json:"jitter,omitempty"`
	// Paused creates the schedule paused.
	Paused bool `json:"paused,omitempty"`
}

// DrillMinInterval keeps a mistyped interval from turning a drill into a
// loop; Temporal itself accepts intervals down to a second.
const DrillMinInterval = time.Second

// DrillChangeRequest is the payload of every controller Update.
type DrillChangeRequest struct {
	Schedule string `json:"schedule"`
	// Drill and Spec are drill.schedule's: what each run starts with and
	// when. The controller sets Drill.Authorization to Signed.
	Drill *DrillInput `json:"drill,omitempty"`
	Spec  DrillSpec   `json:"spec,omitempty"`
	// Note is pause's reason, shown by `drill list`.
	Note string `json:"note,omitempty"`
	// Signed is the operator's statement for this verb and schedule.
	Signed *authz.Signed `json:"signed,omitempty"`
}

// DrillChangeResult is what an accepted change returns.
type DrillChangeResult struct {
	Verb     authz.Verb `json:"verb"`
	Schedule string     `json:"schedule"`
	// Result is the schedule call's outcome: created, updated, paused,
	// unpaused, deleted, triggered.
	Result string         `json:"result"`
	By     authz.Verified `json:"by"`
}

// DrillScheduleCall is the schedule call an accepted change makes.
type DrillScheduleCall struct {
	Verb      authz.Verb  `json:"verb"`
	Schedule  string      `json:"schedule"`
	Drill     *DrillInput `json:"drill,omitempty"`
	Spec      DrillSpec   `json:"spec,omitempty"`
	Note      string      `json:"note,omitempty"`
	TaskQueue string      `json:"task_queue"`
	// By is the verified operator (the schedule's memo records it).
	By string `json:"by"`
}

// DrillControllerInput is what a run of the controller carries over from
// the last: the nonces of statements it accepted that have not expired, so
// a statement is accepted once even across ContinueAsNew.
type DrillControllerInput struct {
	Nonces map[string]time.Time `json:"nonces,omitempty"`
}

// ParseDrillScheduleID splits drill:<runbook>:<bot>.
func ParseDrillScheduleID(id string) (runbook, bot string, ok bool) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 || parts[0] != "drill" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// DrillStatementInputs is the Inputs a drill.schedule statement binds: the
// child's inputs as scheduled, and in the event slot the drill's own
// parameters (bot, mode, hygiene policy) and a digest of the rest of the
// child's input (the runbook definition, action metadata, audit), so a
// copied statement cannot start a rotation where a rehearsal was allowed,
// revoke keys where only reporting was, or run other steps under the
// signed hash. DrillWorkflow recomputes it from its input.
func DrillStatementInputs(in DrillInput) string {
	child := in.Child
	child.Inputs, child.Authorization = nil, nil
	// The drill sets these on its child: they are not the operator's.
	child.IncidentID, child.StartedBy = "", ""
	return authz.StartHash(in.Child.Inputs, map[string]any{"bot": in.Bot, "mode": in.Mode,
		"max_age": in.MaxAge, "unused_for": in.UnusedFor, "revoke_unused": in.RevokeUnused,
		"child": authz.DataHash(jsonRoundTrip(child))})
}

// jsonRoundTrip is v as the other side of a Temporal payload sees it: the
// CLI hashes the value it sends, the workflow the value it decoded, and
// both hash the same bytes only after one decode/encode (numbers become
// float64, maps are sorted).
func jsonRoundTrip(child IncidentInput) any {
	b, err := json.Marshal(child)
	if err != nil {
		return "unencodable: " + err.Error()
	}
	var back IncidentInput
	if err := json.Unmarshal(b, &back); err != nil {
		return "undecodable: " + err.Error()
	}
	if b, err = json.Marshal(back); err != nil {
		return "unencodable: " + err.Error()
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "undecodable: " + err.Error()
	}
	return v
}

// drillAuthzRequest is the check of a drill change or start.
func drillAuthzRequest(verb authz.Verb, schedule string, d *DrillInput, signed *authz.Signed, now time.Time) authz.Request {
	req := authz.Request{Verb: verb, Schedule: schedule, Now: now, Signed: signed}
	if verb == authz.VerbDrillSchedule && d != nil {
		req.Runbook, req.RunbookHash, req.Inputs = d.Child.Runbook.Name, d.Child.RunbookHash, DrillStatementInputs(*d)
		req.Definition = runbooks.DefinitionDigest(d.Child.Runbook, d.Child.Actions)
	}
	return req
}

// checkAuthz asks a for req (the result a SideEffect records, as the
// interpreter's checks do); every failure becomes a Refusal.
func checkAuthz(a authz.Authorizer, req authz.Request) authzResult {
	if a == nil {
		a = refuseAll{}
	}
	v, err := a.Authorize(req)
	if err != nil {
		return authzResult{Refusal: refusalOf(req, err)}
	}
	return authzResult{Verified: &v}
}

func refusalError(r *authz.Refusal) error {
	return temporal.NewNonRetryableApplicationError(r.Reason, RefusalErrorType, nil, *r)
}

// drillController is the controller workflow with the worker's authorizer.
type drillController struct {
	a          authz.Authorizer
	maxUpdates int
}

// controllerRun is one run's state.
type controllerRun struct {
	ctl      *drillController
	nonces   map[string]time.Time
	accepted int
}

// Run serves drill changes until the run has accepted maxUpdates, then
// continues as new once every handler has finished.
func (c *drillController) Run(ctx workflow.Context, in DrillControllerInput) error {
	r := &controllerRun{ctl: c, nonces: map[string]time.Time{}}
	for n, exp := range in.Nonces {
		r.nonces[n] = exp
	}
	for _, verb := range DrillVerbs {
		verb := verb
		if err := workflow.SetUpdateHandlerWithOptions(ctx, string(verb),
			func(ctx workflow.Context, req DrillChangeRequest) (DrillChangeResult, error) {
				return r.handle(ctx, verb, req)
			},
			workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req DrillChangeRequest) error {
				return r.validate(ctx, verb, req)
			}}); err != nil {
			return err
		}
	}
	max := c.maxUpdates
	if max <= 0 {
		max = drillControllerMaxUpdates
	}
	if err := workflow.Await(ctx, func() bool { return r.accepted >= max && workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	now := workflow.Now(ctx)
	keep := map[string]time.Time{}
	for n, exp := range r.nonces {
		if exp.After(now) {
			keep[n] = exp
		}
	}
	return workflow.NewContinueAsNewError(ctx, DrillControllerWorkflowName, DrillControllerInput{Nonces: keep})
}

// shape checks what a change asks for, before any signature.
func shape(verb authz.Verb, req DrillChangeRequest) error {
	book, bot, ok := ParseDrillScheduleID(req.Schedule)
	if !ok {
		return fmt.Errorf("%q is not a drill schedule id (drill:<runbook>:<bot>)", req.Schedule)
	}
	if verb != authz.VerbDrillSchedule {
		if req.Drill != nil {
			return fmt.Errorf("%s takes no drill input", verb)
		}
		return nil
	}
	d := req.Drill
	switch {
	case d == nil:
		return errors.New("drill.schedule needs the drill input")
	case d.ScheduleID != req.Schedule:
		return fmt.Errorf("the drill input is for schedule %q, not %q", d.ScheduleID, req.Schedule)
	case d.Child.Runbook.Name != book || d.Bot != bot:
		return fmt.Errorf("schedule %s runs runbook %s on bot %s, not %s on %s", req.Schedule, book, bot, d.Child.Runbook.Name, d.Bot)
	case d.Mode != DrillModeRotate && d.Mode != DrillModeRehearse:
		return fmt.Errorf("mode %q: want rotate or rehearse", d.Mode)
	case req.Spec.Every == 0 && req.Spec.Cron == "":
		return errors.New("a schedule needs an interval or a cron expression")
	case req.Spec.Every != 0 && req.Spec.Every < DrillMinInterval:
		return fmt.Errorf("interval %s: at least %s", req.Spec.Every, DrillMinInterval)
	}
	return nil
}

// validate refuses, before anything is written to history, a malformed
// change, a statement that does not authorize it, or one already used.
// Validators do not run on replay, so asking the live roster is safe.
func (r *controllerRun) validate(ctx workflow.Context, verb authz.Verb, req DrillChangeRequest) error {
	if err := shape(verb, req); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "InvalidRequest", nil)
	}
	o := checkAuthz(r.ctl.a, drillAuthzRequest(verb, req.Schedule, req.Drill, req.Signed, workflow.Now(ctx)))
	if o.Refusal != nil {
		return refusalError(o.Refusal)
	}
	if _, used := r.nonces[o.Verified.Nonce]; used {
		return refusalError(&authz.Refusal{Verb: verb, Operator: o.Verified.Operator, Reason: "this statement was already used (replayed): sign a new one"})
	}
	return nil
}

// handle re-checks the statement inside a SideEffect, so the verified
// identity (and the policy version that allowed it) is in history, then
// makes the schedule call and audits it.
func (r *controllerRun) handle(ctx workflow.Context, verb authz.Verb, req DrillChangeRequest) (DrillChangeResult, error) {
	r.accepted++
	res := DrillChangeResult{Verb: verb, Schedule: req.Schedule}
	var o authzResult
	err := workflow.SideEffect(ctx, func(ctx workflow.Context) any {
		return checkAuthz(r.ctl.a, drillAuthzRequest(verb, req.Schedule, req.Drill, req.Signed, workflow.Now(ctx)))
	}).Get(&o)
	if err != nil {
		return res, err
	}
	if o.Refusal != nil {
		// The roster changed between validation and now.
		r.audit(ctx, req.Schedule, AuditFact{Kind: AuditDrillChanged, Actor: o.Refusal.Operator, Key: fmt.Sprintf("refused/%s/%d", workflow.GetInfo(ctx).WorkflowExecution.RunID, r.accepted),
			Attrs: map[string]string{"verb": string(verb), "result": "refused", "reason": o.Refusal.Reason}})
		return res, refusalError(o.Refusal)
	}
	v := *o.Verified
	if _, used := r.nonces[v.Nonce]; used {
		return res, refusalError(&authz.Refusal{Verb: verb, Operator: v.Operator, Reason: "this statement was already used (replayed): sign a new one"})
	}
	st, err := req.Signed.Decode()
	if err != nil {
		return res, err
	}
	r.nonces[v.Nonce] = st.Expires
	res.By = v

	call := DrillScheduleCall{Verb: verb, Schedule: req.Schedule, Spec: req.Spec, Note: req.Note,
		TaskQueue: workflow.GetInfo(ctx).TaskQueueName, By: v.Operator}
	switch verb {
	case authz.VerbDrillSchedule:
		d := *req.Drill
		// Every run carries the operator's statement and checks it at start.
		d.Authorization = req.Signed
		call.Drill = &d
	case authz.VerbDrillPause:
		if call.Note == "" {
			call.Note = "paused by " + v.Operator
		} else {
			call.Note += " (" + v.Operator + ")"
		}
	case authz.VerbDrillUnpause:
		call.Note = "unpaused by " + v.Operator
	}
	actx := workflow.WithActivityOptions(ctx, drillActivity)
	if err := workflow.ExecuteActivity(actx, DrillScheduleCallActivity, call).Get(ctx, &res.Result); err != nil {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s %s: %s", verb, req.Schedule, cause(err)), "ScheduleCallFailed", nil)
	}
	a := map[string]string{"verb": string(verb), "result": res.Result, "fingerprint": v.Fingerprint, "policy": v.Policy}
	if call.Note != "" {
		a["note"] = call.Note
	}
	if call.Drill != nil {
		a["runbook"], a["runbook_hash"], a["mode"] = call.Drill.Child.Runbook.Name, call.Drill.Child.RunbookHash, call.Drill.Mode
		a["spec"] = describeSpec(req.Spec)
	}
	r.audit(ctx, req.Schedule, AuditFact{Kind: AuditDrillChanged, Actor: v.Operator, Key: "changed/" + v.Nonce, Attrs: a})
	return res, nil
}

func describeSpec(s DrillSpec) string {
	var p []string
	if s.Every > 0 {
		p = append(p, "every "+s.Every.String())
	}
	if s.Cron != "" {
		p = append(p, "at "+s.Cron)
	}
	if s.Jitter > 0 {
		p = append(p, "jitter "+s.Jitter.String())
	}
	if s.Paused {
		p = append(p, "paused")
	}
	sort.Strings(p)
	return strings.Join(p, ", ")
}

// audit records a fact under the schedule id. Never fails the change: the
// schedule call already happened and the result says who made it.
func (r *controllerRun) audit(ctx workflow.Context, schedule string, f AuditFact) {
	f.IncidentID, f.Run, f.Time = schedule, workflow.GetInfo(ctx).WorkflowExecution.RunID, workflow.Now(ctx)
	lctx := workflow.WithLocalActivityOptions(ctx, auditOptions)
	if err := workflow.ExecuteLocalActivity(lctx, AuditActivityName, f).Get(lctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("drill change not audited", "schedule", schedule, "kind", f.Kind, "error", err)
	}
}
