// Package workflows holds deterministic Temporal code only: the runbook
// interpreter workflow and its signal/query/update handlers. It imports the
// runbook DSL and nothing that talks to the outside world.
package workflows

import (
	"time"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// Names shared by the workflow, the CLI and the trigger consumer.
const (
	// IncidentWorkflowName is the one workflow type that interprets every runbook.
	IncidentWorkflowName = "runbook.incident"
	// DefaultTaskQueue is where the worker listens unless configured otherwise.
	DefaultTaskQueue = "runbook"

	QueryState     = "state"    // returns IncidentState
	UpdateApprove  = "approve"  // Decision
	UpdateDeny     = "deny"     // Decision
	UpdateAbort    = "abort"    // Decision
	SignalEvidence = "evidence" // Evidence: later events for a running incident
	// SignalEvidenceBatch carries []Evidence: what the trigger consumer
	// collected for one incident from one fetched batch, in stream order.
	// Each element is handled exactly like one SignalEvidence.
	SignalEvidenceBatch = "evidence-batch"
)

// The updates take a Decision and return no value. Their validators reject,
// before anything is written to history: approve/deny when no gate waits,
// when Decision.Step names a step that is not waiting, or when Step is empty
// and several gates wait; abort of an ended or already aborting incident.
// The error text says which.
//
// Incidents started since authorization (workflow version "authz" 1) then
// verify Decision.Signed with the worker's authz.Authorizer and reject, with
// the *authz.Refusal's text: a decision that is not signed; a signer not in
// the roster, or a key that is not the named operator's; a statement for
// another verb, incident, run or gate, expired, issued in the future or
// valid too long; an operator whose roles do not allow the verb (approve and
// deny: not an approver of the gate's group; abort: no abort permission); a
// missing, wrong or expired second factor when the gate requires one; a
// Decision.Identity that is not the signer; a nonce already accepted in this
// run (a replayed statement); a TOTP time step that operator already used in
// this run (or, with authz.Live, on this worker); and an operator answering
// a gate they already answered ("alice already approved gate X; it requires
// 2 different approvers"). The accepted handler checks again inside
// workflow.SideEffect, so the authz.Verified it records is in history; a
// decision refused there (the roster was reloaded in between) is kept in
// IncidentState.Refusals and the audit trail, and the update returns the
// refusal. Older histories keep the earlier rules: a non-empty identity,
// listed in Approvers[group] when the group is listed.
//
// Names the interpreter derives (replay depends on them, so they are part of
// the contract): an action's activity ID is its step ID; a compensation's is
// "<step>/compensate" and its StepState ID "<step>.compensate"; the implicit
// gate HoldIrreversible inserts before step S is "S.hold" (group "oncall"),
// and Decision.Step may name either "S.hold" or "S".

// AskApproversActivity is the activity a gate starts when it begins waiting
// (incidents since workflow version "authz" 1): it tells the gate's
// approvers what waits and how to answer, by SMS to their roster phones
// (activities/notify implements it; the worker must register it). It runs
// beside the gate, retried a few times; its failure is only noted in the
// gate's summary and never fails or delays the gate.
const AskApproversActivity = "notify.ask_approvers"

// AskApproversRequest is AskApproversActivity's input: one waiting gate.
type AskApproversRequest struct {
	Incident string `json:"incident"`
	// Run is the Temporal run id: codes and idempotency keys are per run.
	Run string `json:"run"`
	// Gate is the gate's step id (an implicit hold gate's is "S.hold").
	Gate  string `json:"gate"`
	Group string `json:"group"`
	// Message is the gate's rendered message (a hold's reason).
	Message string `json:"message,omitempty"`
	// SecondFactor the gate requires: "", "totp" or "sms" (then the texted
	// code is authz.SMSFactorCode for each approver, IssuedAt and this run).
	SecondFactor string `json:"second_factor,omitempty"`
	// IssuedAt is when the gate started waiting: the SMS codes' issue time
	// (the validators check them against the same instant).
	IssuedAt time.Time `json:"issued_at"`
	// Held is the step an implicit hold gate guards ("" for a runbook gate):
	// a held incident pages on-call that it waits, and for what.
	Held string `json:"held,omitempty"`
}

// IncidentInput is the whole input of the interpreter workflow. The runbook
// definition and its content hash travel here, so history records exactly
// what ran; the workflow never reads files, clocks or the environment.
type IncidentInput struct {
	IncidentID string           `json:"incident_id"`
	Runbook    runbooks.Runbook `json:"runbook"`
	// RunbookHash is the sha256 of the runbook's source file ("sha256:…").
	RunbookHash string `json:"runbook_hash"`
	// Inputs are the runbook inputs after defaults were applied.
	Inputs map[string]any `json:"inputs,omitempty"`
	// Event is the trigger event (CloudEvent as a map) when started by one.
	Event map[string]any `json:"event,omitempty"`
	// Actions holds side-effect class and compensation of every action used.
	Actions map[string]runbooks.ActionMeta `json:"actions"`
	// Approvers maps an approver group to the identities allowed to answer
	// its gates; a group absent here accepts any identity. Only incidents
	// recorded before authorization read it: since then who may approve is
	// the worker's roster (authz roles), never the starter's say.
	Approvers map[string][]string `json:"approvers,omitempty"`
	// Trigger says how the incident was started: "manual", "event", "fleet",
	// "drill" (the start statement must name the same).
	Trigger string `json:"trigger"`
	// StartedBy is the operator identity (manual) or event source, as the
	// starter claims it; StartedByVerified in the state is the proven one.
	StartedBy string `json:"started_by,omitempty"`
	// Authorization is the signed statement that allows this start: an
	// operator's exec (manual), the engine's (event, fleet, drill). It is
	// verified before the first step; a start without one fails closed.
	Authorization *authz.Signed `json:"authorization,omitempty"`
	// HoldIrreversible makes every irreversible step wait for an approval
	// (blast-radius limit exceeded); Reason says why. An action whose
	// ActionMeta.Pages is set is never held: pages always go out.
	HoldIrreversible       bool   `json:"hold_irreversible,omitempty"`
	HoldIrreversibleReason string `json:"hold_irreversible_reason,omitempty"`
	// Audit makes the workflow record its incident-level facts (opened,
	// approvals, evidence, skipped steps, closed) through the local
	// activity AuditActivityName; the worker must register it. Off, the
	// workflow schedules no audit work (and replays histories recorded
	// before auditing existed).
	Audit bool `json:"audit,omitempty"`
}

// Status of a step or of the whole incident.
type Status string

const (
	StatusPending     Status = "pending"
	StatusRunning     Status = "running"
	StatusWaiting     Status = "waiting-approval"
	StatusSucceeded   Status = "succeeded"
	StatusFailed      Status = "failed"
	StatusSkipped     Status = "skipped"
	StatusAborted     Status = "aborted"
	StatusDenied      Status = "denied"
	StatusCompensated Status = "compensated"
)

// Decision is the payload of approve / deny / abort: who, and why.
type Decision struct {
	// Step names the gate; empty means "the gate that is waiting now".
	Step     string `json:"step,omitempty"`
	Identity string `json:"identity"`
	Comment  string `json:"comment,omitempty"`
	// Signed is the operator's signed statement for this decision (verb,
	// incident, run, step, expiry, nonce, second factor). Identity is only
	// what the sender claims; who decided is what Signed proves, and a
	// non-empty Identity that is not the signer (nor, for a relayed SMS
	// reply, the engine) is refused. Comment: the signed statement's comment
	// wins over this one.
	Signed *authz.Signed `json:"signed,omitempty"`
}

// Evidence is a later event signalled into a running incident.
type Evidence struct {
	EventID string         `json:"event_id"`
	Subject string         `json:"subject,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// StepState is one step as the `state` query reports it.
type StepState struct {
	ID         string              `json:"id"`
	Kind       runbooks.StepKind   `json:"kind"`
	Action     string              `json:"action,omitempty"`
	Parent     string              `json:"parent,omitempty"` // parallel group id
	SideEffect runbooks.SideEffect `json:"side_effect,omitempty"`
	Status     Status              `json:"status"`
	Attempts   int32               `json:"attempts,omitempty"`
	StartedAt  *time.Time          `json:"started_at,omitempty"`
	EndedAt    *time.Time          `json:"ended_at,omitempty"`
	Outputs    map[string]any      `json:"outputs,omitempty"` // secrets redacted
	Summary    string              `json:"summary,omitempty"`
	Error      string              `json:"error,omitempty"`
	// Approval gates: who decided and when.
	DecidedBy string `json:"decided_by,omitempty"`
	Comment   string `json:"comment,omitempty"`
	// Approvals are the verified decisions a gate took, in order (several
	// when it requires two people).
	Approvals []authz.Verified `json:"approvals,omitempty"`
	// Compensation records the undo of this step, if it ran.
	Compensation *StepState `json:"compensation,omitempty"`
}

// IncidentState is what the `state` query returns and what the workflow
// returns as its result. The workflow returns it with a nil error whatever
// the outcome (succeeded, failed, aborted, denied): Status says how it ended,
// so callers always get the full record. A non-nil workflow error means the
// interpreter itself broke, never that a runbook step failed.
type IncidentState struct {
	IncidentID  string      `json:"incident_id"`
	Runbook     string      `json:"runbook"`
	RunbookHash string      `json:"runbook_hash"`
	Status      Status      `json:"status"`
	Trigger     string      `json:"trigger"`
	StartedAt   time.Time   `json:"started_at"`
	EndedAt     *time.Time  `json:"ended_at,omitempty"`
	Steps       []StepState `json:"steps"`
	// Evidence keeps the most recent MaxEvidence signals; EvidenceDropped
	// counts older ones that were let go so history stays bounded.
	Evidence        []Evidence `json:"evidence,omitempty"`
	EvidenceDropped int        `json:"evidence_dropped,omitempty"`
	Error           string     `json:"error,omitempty"`
	AbortedBy       string     `json:"aborted_by,omitempty"`
	// StartedByVerified and AbortedByVerified are who, as proven.
	StartedByVerified *authz.Verified `json:"started_by_verified,omitempty"`
	AbortedByVerified *authz.Verified `json:"aborted_by_verified,omitempty"`
	// Refusals are the attempts this incident refused after acceptance
	// checks (its start; a decision whose signer left the roster).
	Refusals []authz.Refusal `json:"refusals,omitempty"`
	// AuditHead is the audit chain head after the workflow's last audit
	// write (the close head, in the result). Nil for histories recorded
	// before chain heads and for incidents without an audit trail.
	AuditHead *AuditHead `json:"audit_head,omitempty"`
}

// MaxEvidence bounds IncidentState.Evidence.
const MaxEvidence = 1000

// AttemptDetail is an optional detail of an action's final error
// (temporal.ApplicationErrorOptions.Details[0]): the attempt that failed.
// Temporal's ActivityError carries no attempt count, so without it the
// workflow records max attempts when retries ran out and leaves Attempts 0
// ("unknown") for other failures.
type AttemptDetail struct {
	Attempt int32 `json:"attempt"`
}
