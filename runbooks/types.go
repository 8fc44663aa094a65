// Package runbooks is the runbook DSL: the typed definition, YAML loading with
// source positions, the JSON Schema, validation, templating/conditions and the
// shipped runbooks. It is pure: no I/O besides loading files, no clocks, so the
// interpreter workflow can use it deterministically.
package runbooks

// Runbook is one declarative runbook as written in YAML. The whole value
// (plus the content hash of its source) is the interpreter workflow's input:
// the workflow never reads a runbook from disk.
type Runbook struct {
	// Name identifies the runbook (kebab-case, e.g. contain-key-breach).
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Version is the author's version string (free form, e.g. "1" or "2026.11").
	Version  string    `json:"version,omitempty" yaml:"version,omitempty"`
	Inputs   []Input   `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	Triggers []Trigger `json:"triggers,omitempty" yaml:"triggers,omitempty"`
	// Hold says how the implicit gates a blast-radius hold inserts before
	// this runbook's irreversible steps are approved (default: one operator).
	Hold  *Hold  `json:"hold,omitempty" yaml:"hold,omitempty"`
	Steps []Step `json:"steps" yaml:"steps"`
}

// Hold is the approval rule of a runbook's blast-radius holds: the same
// require / second_factor an approval step takes, for group oncall.
type Hold struct {
	Require      int    `json:"require,omitempty" yaml:"require,omitempty"`
	SecondFactor string `json:"second_factor,omitempty" yaml:"second_factor,omitempty"`
}

// InputType is the declared type of a runbook input.
type InputType string

const (
	InputString   InputType = "string"
	InputNumber   InputType = "number"
	InputBool     InputType = "bool"
	InputDuration InputType = "duration"
	InputList     InputType = "list"
	InputMap      InputType = "map"
)

// Input is a typed runbook parameter (`runbook exec --input k=v`, or mapped
// from a trigger event).
type Input struct {
	Name        string    `json:"name" yaml:"name"`
	Type        InputType `json:"type" yaml:"type"`
	Description string    `json:"description,omitempty" yaml:"description,omitempty"`
	Required    bool      `json:"required,omitempty" yaml:"required,omitempty"`
	Default     any       `json:"default,omitempty" yaml:"default,omitempty"`
}

// Trigger says which breach events start this runbook. Consumed by the
// events package's trigger consumer.
type Trigger struct {
	// Subject is a NATS subject pattern, e.g. "breach.*.key_leaked" or "breach.>".
	Subject string `json:"subject" yaml:"subject"`
	// When is an optional condition over the event (`event.data.severity == "critical"`).
	When string `json:"when,omitempty" yaml:"when,omitempty"`
	// Inputs maps runbook inputs to templates over the event, e.g. bot: "${{ event.data.bot }}".
	Inputs map[string]string `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	// Dedup is an optional template whose value joins bot+runbook in the incident id.
	Dedup string `json:"dedup,omitempty" yaml:"dedup,omitempty"`
	// Fleet hands a mass breach to a fleet runbook: when one fetched batch
	// of events holds new incidents of this trigger for at least MinBots
	// distinct bots of one exchange, the trigger consumer starts the fleet
	// runbook once for all of them (it contains them together, then starts
	// the per-bot incidents) instead of one workflow per bot.
	Fleet *FleetRoute `json:"fleet,omitempty" yaml:"fleet,omitempty"`
}

// FleetRoute names the runbook that contains many bots of one exchange at
// once, and from how many bots on it is used.
type FleetRoute struct {
	// Runbook is the fleet runbook's name. It takes the inputs exchange
	// (string), targets (list of {bot, key_id, severity}) and severity.
	Runbook string `json:"runbook" yaml:"runbook"`
	// MinBots is the smallest group handed to the fleet runbook (>= 2).
	MinBots int `json:"min_bots" yaml:"min_bots"`
}

// OnFailure says what happens to the incident when a step fails for good.
type OnFailure string

const (
	// OnFailureAbort stops the incident; it ends failed. The default.
	OnFailureAbort OnFailure = "abort"
	// OnFailureContinue records the failure and goes on with the next step.
	OnFailureContinue OnFailure = "continue"
	// OnFailureCompensate runs the compensations of every completed step in
	// reverse order, then ends the incident failed.
	OnFailureCompensate OnFailure = "compensate"
)

// Step is one unit of a runbook. Exactly one of Action, Parallel or Approval
// is set.
type Step struct {
	ID   string `json:"id" yaml:"id"`
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Action is a registered action name such as "exchange.revoke_key".
	Action string `json:"action,omitempty" yaml:"action,omitempty"`
	// With are the action's params; string values may hold ${{ expr }} templates
	// over inputs, event, steps and incident.
	With map[string]any `json:"with,omitempty" yaml:"with,omitempty"`
	// When is a condition (expr language); false skips the step.
	When      string    `json:"when,omitempty" yaml:"when,omitempty"`
	Retry     *Retry    `json:"retry,omitempty" yaml:"retry,omitempty"`
	Timeout   Duration  `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	OnFailure OnFailure `json:"on_failure,omitempty" yaml:"on_failure,omitempty"`
	Parallel  []Step    `json:"parallel,omitempty" yaml:"parallel,omitempty"`
	Approval  *Approval `json:"approval,omitempty" yaml:"approval,omitempty"`
	// Compensate overrides the action's declared compensation.
	Compensate *Compensation `json:"compensate,omitempty" yaml:"compensate,omitempty"`
	// Local runs the action as a Temporal local activity: in the worker
	// that runs the workflow task, without a trip through the task queue.
	// For the first containment moves, where milliseconds count; the step
	// keeps its timeout and retry policy. Ignored on groups and gates.
	Local bool `json:"local,omitempty" yaml:"local,omitempty"`
}

// Kind tells what sort of step this is.
func (s Step) Kind() StepKind {
	switch {
	case len(s.Parallel) > 0:
		return StepParallel
	case s.Approval != nil:
		return StepApproval
	default:
		return StepAction
	}
}

// StepKind distinguishes action steps, parallel groups and approval gates.
type StepKind string

const (
	StepAction   StepKind = "action"
	StepParallel StepKind = "parallel"
	StepApproval StepKind = "approval"
)

// Retry maps onto Temporal's activity retry policy.
type Retry struct {
	MaxAttempts        int      `json:"max_attempts,omitempty" yaml:"max_attempts,omitempty"`
	InitialInterval    Duration `json:"initial_interval,omitempty" yaml:"initial_interval,omitempty"`
	BackoffCoefficient float64  `json:"backoff_coefficient,omitempty" yaml:"backoff_coefficient,omitempty"`
	MaxInterval        Duration `json:"max_interval,omitempty" yaml:"max_interval,omitempty"`
	// NonRetryable lists error types that end the step at once (e.g. "AuthenticationError").
	NonRetryable []string `json:"non_retryable,omitempty" yaml:"non_retryable,omitempty"`
}

// OnTimeout says what an approval gate does when nobody answers in time.
type OnTimeout string

const (
	OnTimeoutAbort    OnTimeout = "abort"    // the default: the incident stops
	OnTimeoutContinue OnTimeout = "continue" // go on as if approved
	OnTimeoutSkip     OnTimeout = "skip"     // go on, recording the gate as skipped
)

// Approval is a gate: the incident waits until an operator of Group approves
// (or denies) through `runbook approve|deny`.
type Approval struct {
	Group     string    `json:"group" yaml:"group"`
	Message   string    `json:"message,omitempty" yaml:"message,omitempty"`
	Timeout   Duration  `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	OnTimeout OnTimeout `json:"on_timeout,omitempty" yaml:"on_timeout,omitempty"`
	// Require is how many distinct operators must approve (default 1; 2 is
	// the two-person rule). One deny by an approver denies.
	Require int `json:"require,omitempty" yaml:"require,omitempty"`
	// SecondFactor each approval must carry: "totp" (RFC 6238 code) or "sms"
	// (the code the gate texted to that approver for this run).
	SecondFactor string `json:"second_factor,omitempty" yaml:"second_factor,omitempty"`
}

// Compensation is the action (and its params) that undoes a step.
type Compensation struct {
	Action string         `json:"action" yaml:"action"`
	With   map[string]any `json:"with,omitempty" yaml:"with,omitempty"`
}
