// Package incident holds the actions that act on other incidents. The one
// action, incident.start_many, is how a fleet runbook hands its bots over
// after containing them together: it starts (or finds) one per-bot
// incident each, under the same deterministic ids the trigger consumer
// would have used, so a storm of later events for a bot joins its incident.
//
// Starting incidents is the engine's business (Temporal client, loaded
// runbooks): the action only sees the Starter interface, which cmd/runbook
// implements.
package incident

import (
	"context"

	"github.com/keyresponse/runbook/activities"
)

// Spec is one incident to start.
type Spec struct {
	// Runbook is the runbook's name, resolved by the Starter against the
	// engine's loaded runbooks.
	Runbook string
	// IncidentID is the workflow id.
	IncidentID string
	// Inputs are the runbook inputs before defaults and type checks
	// (the Starter applies the runbook's declarations).
	Inputs map[string]any
	// StartedBy says who started it: "fleet:<fleet incident id>".
	StartedBy string
}

// Result says what became of a Spec. Neither flag set means the incident
// was already running (the start found it, nothing new was started).
type Result struct {
	Started bool
	// Closed: an incident with this id already ran and ended; nothing is
	// started again (the id carries the breach's key, so it is the same
	// breach).
	Closed bool
}

// Starter starts incidents. Implementations must be idempotent: starting
// an id that exists is success (Result says which case).
type Starter interface {
	StartIncident(ctx context.Context, s Spec) (Result, error)
}

// Deps are what the incident actions need from the worker.
type Deps struct {
	// Starter is nil in the validation catalog; a run then fails with
	// InvalidParams.
	Starter Starter
}

// Actions returns every incident action, for activities.NewRegistry.
func Actions(d Deps) []activities.Action {
	return []activities.Action{StartMany(d)}
}
