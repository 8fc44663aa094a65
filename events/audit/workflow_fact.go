package audit

import (
	"context"

	"github.com/keyresponse/runbook/workflows"
)

// RecordFact is the audit.record activity in the form the interpreter
// workflow calls it: a local activity by name with a workflows.AuditFact
// (workflows cannot import this package). Register it, not Record, under
// RecordActivityName:
//
//	w.RegisterActivityWithOptions(ra.RecordFact, activity.RegisterOptions{Name: audit.RecordActivityName})
//
// A local activity is handed the workflow's Go value as is, without a
// payload round trip, so a function taking Record would be called with an
// AuditFact and fail on every write. RecordFact also serves the regular
// (server round trip) form, since the JSON of both types is the same.
//
// It returns the chain head after the write: the workflow keeps it, and as
// the local activity's result it is in the incident's Temporal history,
// where `runbook audit verify` compares the stream against it.
func (a *RecordActivity) RecordFact(ctx context.Context, f workflows.AuditFact) (workflows.AuditHead, error) {
	stored, err := a.Record(ctx, FromWorkflow(f))
	if err != nil {
		return workflows.AuditHead{}, err
	}
	return HeadOf(stored), nil
}

// RecordFacts is audit.record_batch (workflows.AuditBatchActivityName):
// the facts in order, each exactly as RecordFact would write it. A retry
// after a partial write is safe: Store.Append is idempotent per fact.
// It returns the head after the last fact.
func (a *RecordActivity) RecordFacts(ctx context.Context, fs []workflows.AuditFact) (workflows.AuditHead, error) {
	var last Record
	for _, f := range fs {
		stored, err := a.Record(ctx, FromWorkflow(f))
		if err != nil {
			return workflows.AuditHead{}, err
		}
		last = stored
	}
	return HeadOf(last), nil
}

// FromWorkflow converts a workflow's fact into a Record (seq and hashes
// are left for Store.Append).
func FromWorkflow(f workflows.AuditFact) Record {
	return Record{IncidentID: f.IncidentID, Run: f.Run, Kind: Kind(f.Kind), Time: f.Time, Step: f.Step,
		Actor: f.Actor, Attrs: f.Attrs, Key: f.Key}
}
