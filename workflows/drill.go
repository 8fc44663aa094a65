package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// Scheduled drills. A Temporal Schedule (id DrillScheduleID) starts
// DrillWorkflow; the drill checks no real incident of the bot is open, runs
// the key-hygiene checks, then runs the runbook as a child IncidentWorkflow
// so a drill goes through exactly the machinery and audit trail a real
// incident does.
const (
	DrillWorkflowName = "runbook.drill"

	DrillModeRotate   = "rotate"   // the real rotate-keys runbook on the bot
	DrillModeRehearse = "rehearse" // containment against the simulator, on a mirror

	// Activities the worker registers for drills (cmd/runbook/drill_activities.go).
	DrillOpenIncidentsActivity    = "drill.open_incidents"
	DrillPrepareRehearsalActivity = "drill.prepare_rehearsal"

	// Audit kinds (events/audit.DrillFinding, DrillResult).
	AuditDrillFinding = "drill.finding"
	AuditDrillResult  = "drill.result"

	// FindingNotInUse is a key on the bot's sub-account that the bot does
	// not use (the drill's own finding; the others are exchange.audit_keys').
	FindingNotInUse = "not_in_use"
	// FindingAuditUnavailable: the keys could not be listed.
	FindingAuditUnavailable = "audit_unavailable"
)

// Drill results.
const (
	DrillPassed  = "passed"
	DrillFailed  = "failed"
	DrillSkipped = "skipped"
)

// DrillScheduleID is the one schedule of a bot and runbook.
func DrillScheduleID(runbook, bot string) string { return "drill:" + runbook + ":" + bot }

// RehearsalBotID is the bot id a rehearsal runs its runbook on: a bot the
// worker configures for every real bot, whose exchange account is the
// simulator (see cmd/runbook/drill_rehearsal.go).
func RehearsalBotID(bot string) string { return "rehearsal-" + bot }

// RegisterDrill registers DrillWorkflow and the drill controller, both
// checking statements with a (the worker's live roster). The worker must
// also register the DrillOpenIncidentsActivity,
// DrillPrepareRehearsalActivity, DrillScheduleCallActivity and
// DrillSignStartActivity activities.
func RegisterDrill(w worker.WorkflowRegistry, a authz.Authorizer) {
	d := &drills{a: a}
	w.RegisterWorkflowWithOptions(d.DrillWorkflow, workflow.RegisterOptions{Name: DrillWorkflowName})
	c := &drillController{a: a}
	w.RegisterWorkflowWithOptions(c.Run, workflow.RegisterOptions{Name: DrillControllerWorkflowName})
}

// drills is DrillWorkflow with the worker's authorizer.
type drills struct{ a authz.Authorizer }

// DrillInput is fixed when the schedule is created: the runbook definition
// travels in it, so every run of a schedule runs the same, hashed runbook
// (re-run `drill schedule` to pick up a new version).
type DrillInput struct {
	ScheduleID string `json:"schedule_id"`
	Bot        string `json:"bot"`
	Mode       string `json:"mode"`
	// Child is the runbook's incident input; IncidentID, Inputs["bot"],
	// Trigger and StartedBy are set by the drill.
	Child IncidentInput `json:"child"`
	// Hygiene policy: key age and idle limits; RevokeUnused revokes keys on
	// the bot's sub-account that the bot does not use (rotate mode only).
	MaxAge       string `json:"max_age,omitempty"`
	UnusedFor    string `json:"unused_for,omitempty"`
	RevokeUnused bool   `json:"revoke_unused,omitempty"`
	// Authorization is the operator's drill.schedule statement for this
	// schedule, runbook, hash and DrillStatementInputs; the drill controller
	// sets it. Each run checks it at start against the worker's roster (the
	// operator must still be there with the drill permission) and is
	// refused without it.
	Authorization *authz.Signed `json:"authorization,omitempty"`
}

// DrillSignStartRequest asks the worker to sign, with the engine key, the
// exec statement of a drill's child incident (Trigger "drill").
type DrillSignStartRequest struct {
	Drill       string `json:"drill"`
	Incident    string `json:"incident"`
	Runbook     string `json:"runbook"`
	RunbookHash string `json:"runbook_hash"`
	Definition  string `json:"definition"` // runbooks.DefinitionDigest of the child
	Inputs      string `json:"inputs"`     // authz.StartHash(child inputs, child event)
	Options     string `json:"options"`    // the child's hold and audit options (StartStatement)
}

// Statement is the engine's exec statement for the child start req asks
// for (trigger drill; the signer adds times and nonce): the worker's
// drill.sign_start activity signs exactly this.
func (req DrillSignStartRequest) Statement() authz.Statement {
	return authz.Statement{Verb: authz.VerbExec, Operator: authz.EngineName, Incident: req.Incident, Runbook: req.Runbook,
		RunbookHash: req.RunbookHash, Definition: req.Definition, Inputs: req.Inputs, Options: req.Options, Trigger: "drill",
		Comment: "drill " + req.Drill}
}

// DrillFinding is one hygiene finding.
type DrillFinding struct {
	KeyID   string `json:"key_id"`
	Finding string `json:"finding"`
	Detail  string `json:"detail,omitempty"`
	Revoked bool   `json:"revoked,omitempty"`
}

// OpenIncidentsRequest asks for the bot's running incidents.
type OpenIncidentsRequest struct {
	Bot string `json:"bot"`
	// Except is a workflow id not to count (the drill's own child).
	Except string `json:"except,omitempty"`
}

// RehearsalRequest asks the worker to mirror the bot's key on the simulator.
type RehearsalRequest struct {
	Bot        string `json:"bot"`
	Account    string `json:"account"`
	SubAccount string `json:"sub_account"`
	KeyID      string `json:"key_id"`
	DrillID    string `json:"drill_id"`
}

// Rehearsal is the mirror the rehearsal runs on. It holds no secret.
type Rehearsal struct {
	Bot         string   `json:"bot"` // the rehearsal bot id
	MirrorKeyID string   `json:"mirror_key_id"`
	Permissions string   `json:"permissions"`  // "read,trade,withdraw"
	IPWhitelist []string `json:"ip_whitelist"` // as on the real key
	// Source says where the settings came from: "exchange" (the real
	// key's KeyInfo) or "assumed: <why>" (worst case: the real exchange
	// could not be asked).
	Source string `json:"source"`
}

// DrillResult is what a drill returns and `drill report` shows.
type DrillResult struct {
	DrillID    string    `json:"drill_id"`
	ScheduleID string    `json:"schedule_id"`
	Bot        string    `json:"bot"`
	Mode       string    `json:"mode"`
	Runbook    string    `json:"runbook"`
	Result     string    `json:"result"`
	Reason     string    `json:"reason,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	EndedAt    time.Time `json:"ended_at"`
	// Child is the runbook's incident id (status/audit with it).
	Child       string `json:"child,omitempty"`
	ChildStatus Status `json:"child_status,omitempty"`
	// TimeToContain (rehearse): from the child's start to the first
	// containment step succeeding. RotationDuration: from the new key's
	// creation starting to the old key's revocation ending.
	TimeToContain    time.Duration  `json:"time_to_contain,omitempty"`
	RotationDuration time.Duration  `json:"rotation_duration,omitempty"`
	Findings         []DrillFinding `json:"findings,omitempty"`
	Rehearsal        *Rehearsal     `json:"rehearsal,omitempty"`
	Notified         bool           `json:"notified,omitempty"`
	// AuthorizedBy is the operator whose drill.schedule statement allowed
	// this run, as verified at its start.
	AuthorizedBy *authz.Verified `json:"authorized_by,omitempty"`
}

// containmentActions end the attacker's use of a key: the first of them to
// succeed is when the breach was contained.
var containmentActions = []string{"exchange.set_ip_whitelist", "exchange.revoke_key", "exchange.self_revoke", "bot.freeze"}

var drillActivity = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2,
		MaximumInterval: 2 * time.Second, MaximumAttempts: 3, NonRetryableErrorTypes: DefaultNonRetryable},
}

// DrillWorkflow runs one drill. It returns the result with a nil error
// whatever the outcome; a failed drill texts on-call. A run whose
// Authorization does not pass (forged or edited schedule, operator no
// longer allowed) fails "refused: …" before it calls anything else.
func (w *drills) DrillWorkflow(ctx workflow.Context, in DrillInput) (DrillResult, error) {
	info := workflow.GetInfo(ctx)
	d := &drill{in: in, id: info.WorkflowExecution.ID, run: info.WorkflowExecution.RunID, a: w.a}
	d.res = DrillResult{DrillID: d.id, ScheduleID: in.ScheduleID, Bot: in.Bot, Mode: in.Mode,
		Runbook: in.Child.Runbook.Name, StartedAt: workflow.Now(ctx)}
	actx := workflow.WithActivityOptions(ctx, drillActivity)
	d.record(ctx, AuditFact{Kind: AuditIncidentOpened, Actor: "drill " + in.ScheduleID, Key: "opened",
		Attrs: map[string]string{"runbook": in.Child.Runbook.Name, "runbook_hash": in.Child.RunbookHash, "trigger": "drill", "mode": in.Mode}})
	// authzVersion: drills recorded before it replay without checking their
	// statement or signing their child's start.
	d.authz = workflow.GetVersion(ctx, authzVersion, workflow.DefaultVersion, 1) >= 1
	if !d.authz || d.authorize(ctx) {
		d.execute(ctx, actx)
	} else if rf := d.refused; rf != nil {
		// Who tried to have this drill run, and why it did not (as the
		// interpreter records a refused start).
		d.record(ctx, AuditFact{Kind: AuditAuthzRefused, Actor: rf.Operator, Key: "authz/refused/start",
			Attrs: map[string]string{"verb": string(rf.Verb), "operator": rf.Operator, "reason": rf.Reason, "schedule": d.in.ScheduleID}})
	}
	d.res.EndedAt = workflow.Now(ctx)
	if d.res.Result == DrillFailed {
		d.notify(actx)
	}
	d.record(ctx, d.resultFact())
	d.record(ctx, closedFact(drillStatus(d.res.Result), d.res.Reason))
	return d.res, nil
}

type drill struct {
	in  DrillInput
	id  string
	run string
	res DrillResult
	a   authz.Authorizer
	// authz: this run checks its statement and signs its child's start.
	authz   bool
	refused *authz.Refusal
}

// authorize checks the run's drill.schedule statement (in a SideEffect:
// the verified identity, or the refusal, is recorded in history). A
// refusal fails the drill; its result fact says why.
func (d *drill) authorize(ctx workflow.Context) bool {
	var o authzResult
	err := workflow.SideEffect(ctx, func(ctx workflow.Context) any {
		return checkAuthz(d.a, drillAuthzRequest(authz.VerbDrillSchedule, d.in.ScheduleID, &d.in, d.in.Authorization, workflow.Now(ctx)))
	}).Get(&o)
	switch {
	case err != nil:
		d.fail("refused: %v", err)
		d.refused = &authz.Refusal{Verb: authz.VerbDrillSchedule, Reason: err.Error()}
	case o.Refusal != nil:
		d.fail("refused: %s", o.Refusal.Error())
		d.refused = o.Refusal
	case o.Verified == nil:
		d.fail("refused: the check returned no identity")
		d.refused = &authz.Refusal{Verb: authz.VerbDrillSchedule, Reason: "the check returned no identity"}
	default:
		d.res.AuthorizedBy = o.Verified
		return true
	}
	return false
}

func (d *drill) fail(format string, args ...any) {
	d.res.Result, d.res.Reason = DrillFailed, fmt.Sprintf(format, args...)
}

func (d *drill) execute(ctx, actx workflow.Context) {
	if d.in.Mode != DrillModeRotate && d.in.Mode != DrillModeRehearse {
		d.fail("unknown drill mode %q", d.in.Mode)
		return
	}
	childID := d.childID()
	d.res.Child = childID
	// Never while a real incident of the bot is open.
	var open []string
	if err := workflow.ExecuteActivity(actx, DrillOpenIncidentsActivity, OpenIncidentsRequest{Bot: d.in.Bot}).Get(ctx, &open); err != nil {
		d.fail("cannot tell whether an incident is open: %s", cause(err))
		return
	}
	if len(open) > 0 {
		d.res.Result, d.res.Reason = DrillSkipped, "incident open for "+d.in.Bot+": "+strings.Join(open, ", ")
		return
	}
	bot, err := d.action(actx, "info", "bot.info", map[string]any{"bot": d.in.Bot})
	if err != nil {
		d.fail("bot.info: %s", cause(err))
		return
	}
	d.hygiene(ctx, actx, bot.Outputs)

	child := d.in.Child
	child.IncidentID = childID
	child.Trigger = "drill"
	child.StartedBy = d.id
	child.Inputs = cloneInputs(child.Inputs)
	child.Inputs["bot"] = d.in.Bot
	if d.in.Mode == DrillModeRehearse {
		var reh Rehearsal
		req := RehearsalRequest{Bot: d.in.Bot, Account: str(bot.Outputs["account"]), SubAccount: str(bot.Outputs["sub_account"]),
			KeyID: str(bot.Outputs["key_id"]), DrillID: d.id}
		if err := workflow.ExecuteActivity(actx, DrillPrepareRehearsalActivity, req).Get(ctx, &reh); err != nil {
			d.fail("prepare rehearsal: %s", cause(err))
			return
		}
		d.res.Rehearsal = &reh
		child.Inputs["bot"] = reh.Bot
		if _, ok := child.Inputs["key_id"]; ok {
			child.Inputs["key_id"] = reh.MirrorKeyID
		}
	}
	if d.authz {
		// The child checks its own start like any incident: the engine
		// vouches for it, having checked the operator's statement above.
		var signed authz.Signed
		st := StartStatement(child)
		req := DrillSignStartRequest{Drill: d.id, Incident: childID, Runbook: st.Runbook,
			RunbookHash: st.RunbookHash, Definition: st.Definition, Inputs: st.Inputs, Options: st.Options}
		if err := workflow.ExecuteActivity(actx, DrillSignStartActivity, req).Get(ctx, &signed); err != nil {
			d.fail("sign the start of %s: %s", childID, cause(err))
			return
		}
		child.Authorization = &signed
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            childID,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// A rotation half done must finish (or compensate) even if the
		// drill itself is terminated.
		ParentClosePolicy:        enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowExecutionTimeout: 24 * time.Hour,
	})
	var st IncidentState
	err = workflow.ExecuteChildWorkflow(cctx, IncidentWorkflowName, child).Get(ctx, &st)
	if isAlreadyStarted(err) {
		d.res.Result, d.res.Reason = DrillSkipped, "incident "+childID+" is already running"
		return
	}
	if err != nil {
		d.fail("runbook %s: %s", child.Runbook.Name, cause(err))
		return
	}
	d.res.ChildStatus = st.Status
	if d.in.Mode == DrillModeRehearse {
		// A planned rotation contains nothing: only a rehearsal measures it.
		d.res.TimeToContain = timeToContain(st)
	}
	d.res.RotationDuration = rotationDuration(st)
	if st.Status != StatusSucceeded {
		d.fail("runbook %s ended %s: %s", child.Runbook.Name, st.Status, st.Error)
		return
	}
	d.res.Result = DrillPassed
}

// childID collides on purpose with the id `runbook exec rotate-keys
// --input bot=B` uses, so a drill never rotates alongside a manual
// rotation. A rehearsal runs on another bot id and never collides.
func (d *drill) childID() string {
	if d.in.Mode == DrillModeRehearse {
		return "rehearsal:" + d.in.Child.Runbook.Name + ":" + d.in.Bot
	}
	return d.in.Child.Runbook.Name + ":" + d.in.Bot
}

// hygiene lists the keys of the bot's sub-account and records a finding
// per problem. A failure to list is a finding, not a failed drill: the
// drill's runbook still tells whether containment works.
func (d *drill) hygiene(ctx, actx workflow.Context, bot map[string]any) {
	params := map[string]any{"exchange": bot["account"], "sub_account": bot["sub_account"], "expected_ips": bot["ips"]}
	if d.in.MaxAge != "" {
		params["max_age"] = d.in.MaxAge
	}
	if d.in.UnusedFor != "" {
		params["unused_for"] = d.in.UnusedFor
	}
	current := str(bot["key_id"])
	res, err := d.action(actx, "hygiene", "exchange.audit_keys", params)
	if err != nil {
		d.finding(ctx, bot, DrillFinding{Finding: FindingAuditUnavailable, Detail: cause(err)})
		return
	}
	keys, _ := res.Outputs["keys"].([]any)
	for _, k := range keys {
		row, _ := k.(map[string]any)
		id := str(row["id"])
		fs, _ := row["findings"].([]any)
		for _, f := range fs {
			d.finding(ctx, bot, DrillFinding{KeyID: id, Finding: str(f), Detail: "permissions " + str(row["permissions"])})
		}
		if id == current || id == "" {
			continue
		}
		fd := DrillFinding{KeyID: id, Finding: FindingNotInUse, Detail: "label " + str(row["label"])}
		if d.in.RevokeUnused && d.in.Mode == DrillModeRotate {
			_, err := d.action(actx, "hygiene-revoke-"+id, "exchange.revoke_key",
				map[string]any{"exchange": bot["account"], "sub_account": bot["sub_account"], "key_id": id})
			fd.Revoked = err == nil
			if err != nil {
				fd.Detail += "; revoke failed: " + cause(err)
			}
		}
		d.finding(ctx, bot, fd)
	}
}

func (d *drill) finding(ctx workflow.Context, bot map[string]any, f DrillFinding) {
	d.res.Findings = append(d.res.Findings, f)
	a := map[string]string{"key_id": f.KeyID, "finding": f.Finding, "exchange": str(bot["account"]),
		"sub_account": str(bot["sub_account"]), "detail": f.Detail}
	if f.Revoked {
		a["revoked"] = "true"
	}
	d.record(ctx, AuditFact{Kind: AuditDrillFinding, Attrs: a, Key: "finding/" + f.KeyID + "/" + f.Finding})
}

// action runs a registered action as an activity, reported to the audit
// hook under the drill's id like any incident step.
func (d *drill) action(actx workflow.Context, step, action string, params map[string]any) (runbooks.ActionResult, error) {
	var res runbooks.ActionResult
	o := drillActivity
	o.ActivityID = step
	req := runbooks.ActionRequest{IncidentID: d.id, Runbook: "drill", StepID: step, Action: action, Params: params}
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(actx, o), action, req).Get(actx, &res)
	return res, err
}

// notify texts on-call about a failed drill. A failure to text is logged:
// the result and the audit trail still say the drill failed.
func (d *drill) notify(actx workflow.Context) {
	msg := fmt.Sprintf("Drill %s (%s) for %s FAILED: %s. Audit: runbook audit %s", d.in.Child.Runbook.Name, d.in.Mode, d.in.Bot, d.res.Reason, d.id)
	_, err := d.action(actx, "notify-failure", "notify.sms",
		map[string]any{"to": "oncall", "bot": d.in.Bot, "severity": "high", "reply": "none", "message": msg})
	d.res.Notified = err == nil
	if err != nil {
		workflow.GetLogger(actx).Error("drill failure not texted", "drill", d.id, "error", err)
	}
}

// record writes an audit fact through the local audit activity, in order,
// and never fails the drill (the writer for incidents does the same).
func (d *drill) record(ctx workflow.Context, f AuditFact) {
	f.IncidentID, f.Run, f.Time = d.id, d.run, workflow.Now(ctx)
	lctx := workflow.WithLocalActivityOptions(ctx, auditOptions)
	if err := workflow.ExecuteLocalActivity(lctx, AuditActivityName, f).Get(lctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("audit fact not recorded", "drill", d.id, "kind", f.Kind, "error", err)
	}
}

func (d *drill) resultFact() AuditFact {
	a := map[string]string{"mode": d.in.Mode, "runbook": d.in.Child.Runbook.Name, "child": d.res.Child,
		"result": d.res.Result, "reason": d.res.Reason, "findings": fmt.Sprint(len(d.res.Findings))}
	if d.res.TimeToContain > 0 {
		a["time_to_contain"] = d.res.TimeToContain.String()
	}
	if d.res.RotationDuration > 0 {
		a["rotation_duration"] = d.res.RotationDuration.String()
	}
	if v := d.res.AuthorizedBy; v != nil {
		a["authorized_by"], a["authorized_fingerprint"] = v.Operator, v.Fingerprint
	}
	if r := d.refused; r != nil {
		// Who the statement claimed to be, and why it did not pass.
		a["authorization"], a["claimed_operator"] = "refused", r.Operator
	}
	return AuditFact{Kind: AuditDrillResult, Attrs: a, Key: "result"}
}

func drillStatus(result string) Status {
	switch result {
	case DrillPassed:
		return StatusSucceeded
	case DrillSkipped:
		return StatusSkipped
	}
	return StatusFailed
}

// timeToContain is from the incident's start to the first containment
// action that succeeded (0 when none did).
func timeToContain(st IncidentState) time.Duration {
	var first time.Time
	for _, s := range st.Steps {
		if s.Status != StatusSucceeded || s.EndedAt == nil || !slices.Contains(containmentActions, s.Action) {
			continue
		}
		if first.IsZero() || s.EndedAt.Before(first) {
			first = *s.EndedAt
		}
	}
	if first.IsZero() {
		return 0
	}
	return first.Sub(st.StartedAt)
}

// rotationDuration is from the new key's creation starting to the old
// key's revocation ending: how long the bot's key was being changed.
func rotationDuration(st IncidentState) time.Duration {
	var start, end time.Time
	for _, s := range st.Steps {
		if s.Status != StatusSucceeded || s.StartedAt == nil || s.EndedAt == nil {
			continue
		}
		switch s.ID {
		case "new_key":
			start = *s.StartedAt
		case "revoke_old":
			end = *s.EndedAt
		}
	}
	if start.IsZero() || end.IsZero() {
		return 0
	}
	return end.Sub(start)
}

// cause is an activity or child error's own message, without the
// wrapping Temporal adds (activity type, event ids, identity).
func cause(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	return err.Error()
}

func isAlreadyStarted(err error) bool {
	return err != nil && temporal.IsWorkflowExecutionAlreadyStartedError(err)
}

func cloneInputs(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
