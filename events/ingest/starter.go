package ingest

import (
	"context"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// Starter starts the incident of a matched runbook, or, when an incident
// with that id is already running, signals the event into it as evidence.
// The production implementation is Temporal SignalWithStart (see
// events/ingest/temporalstart); tests use a fake. It must be idempotent
// per (IncidentID, Evidence.EventID): a redelivered message calls it again.
type Starter interface {
	StartOrSignal(ctx context.Context, req StartRequest) (StartResult, error)
}

// StartRequest is everything needed to start or signal one incident.
type StartRequest struct {
	// IncidentID is the deterministic workflow id <runbook>:<bot>[:<dedup>].
	IncidentID  string
	Runbook     runbooks.Runbook
	RunbookHash string
	// Inputs after trigger mapping and defaults.
	Inputs map[string]any
	// Event is the CloudEvent as a map (the `event` scope).
	Event map[string]any
	// Evidence is what a running incident receives as SignalEvidence.
	Evidence workflows.Evidence
	// MoreEvidence are later events of the same fetched batch for the same
	// incident, in stream order. The Starter delivers them after Evidence
	// in one SignalEvidenceBatch (whether it started or signalled), so a
	// storm costs one Temporal call per incident per batch, not per event.
	MoreEvidence []workflows.Evidence
	// StartedBy is the event's source.
	StartedBy string
	// Exchange is data.exchange, for the blast-radius limiter.
	Exchange string
	// HoldIrreversible is set when the blast-radius limit is exceeded:
	// irreversible steps wait for an on-call approve.
	HoldIrreversible       bool
	HoldIrreversibleReason string
}

// StartResult says what the Starter did.
type StartResult struct {
	IncidentID string
	// Started is true when a new incident was started, false when the event
	// was signalled into a running one.
	Started bool
	// Closed is true when the incident for this id already ran and ended:
	// the event belongs to a breach that was handled (or that failed and
	// now needs on-call, who restart it with `runbook exec`). Nothing is
	// started: a storm must not restart a failed incident in a loop.
	Closed bool
}

// IncidentInput builds the interpreter workflow's input. actions carries
// the side-effect class and compensation of every action the runbook uses
// (the caller resolves them from the action registry).
func (r StartRequest) IncidentInput(actions map[string]runbooks.ActionMeta) workflows.IncidentInput {
	return workflows.IncidentInput{
		IncidentID:             r.IncidentID,
		Runbook:                r.Runbook,
		RunbookHash:            r.RunbookHash,
		Inputs:                 r.Inputs,
		Event:                  r.Event,
		Actions:                actions,
		Trigger:                "event",
		StartedBy:              r.StartedBy,
		Audit:                  true,
		HoldIrreversible:       r.HoldIrreversible,
		HoldIrreversibleReason: r.HoldIrreversibleReason,
	}
}
