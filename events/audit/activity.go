package audit

import (
	"context"

	"github.com/keyresponse/runbook/activities"
)

// RecordActivityName is the activity type the worker registers
// RecordActivity.Record under.
const RecordActivityName = "audit.record"

// RecordBatchActivityName is the batched form (RecordActivity.RecordFacts).
const RecordBatchActivityName = "audit.record_batch"

// RecordActivity lets the workflow write incident-level facts (opened,
// approval asked/granted/denied, evidence, skipped steps, closed) through an
// activity, since workflow code must not do I/O. Register it with
//
//	w.RegisterActivityWithOptions(ra.Record, activity.RegisterOptions{Name: audit.RecordActivityName})
//
// The workflow builds the record with the constructors in facts.go (Opened,
// ApprovalDecided, Closed, …), setting Time from workflow.Now so a replay
// produces the same record; the idempotency key makes a retried or replayed
// activity a no-op. Run is filled in with the workflow's run id unless the
// workflow set it (an interpreter that continues-as-new should set it to
// workflow.GetInfo(ctx).FirstRunID so one incident stays one run).
type RecordActivity struct {
	Store *Store
	// OnAppend, when set, is told about every record appended (incident
	// metrics). A retried activity may report the same record twice.
	OnAppend func(ctx context.Context, rec Record)
}

// Record appends rec and returns the stored record. A malformed record is
// a non-retryable InvalidParams error; a NATS problem is retryable.
func (a *RecordActivity) Record(ctx context.Context, rec Record) (Record, error) {
	if rec.IncidentID == "" || rec.Key == "" || !rec.Kind.Known() {
		_, err := a.Store.Append(ctx, rec) // produces the descriptive error
		return Record{}, activities.NonRetryable(activities.ErrInvalidParams, err)
	}
	rec.Run = runOf(ctx, rec.Run)
	stored, err := a.Store.Append(ctx, rec)
	if err == nil && a.OnAppend != nil {
		a.OnAppend(ctx, stored)
	}
	return stored, err
}

// HeadOf is the chain head a stored record stands for (what the workflow
// keeps in its history).
func HeadOf(r Record) Head {
	return Head{Run: r.Run, Seq: r.Seq, Kind: string(r.Kind), Hash: r.Hash, KeyID: r.KeyID}
}
