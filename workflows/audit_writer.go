package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// auditOptions bound each audit write. It runs as a local activity, in the
// worker that runs the workflow task, so recording a fact costs no server
// round trip; the SDK holds the workflow task open while it runs (a NATS
// append, milliseconds), and the bounds keep a dead audit store from
// holding it long: the SDK completes the task anyway at 80% of the workflow
// task timeout.
var auditOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    3 * time.Second,
	ScheduleToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        200 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        2 * time.Second,
		MaximumAttempts:        3,
		NonRetryableErrorTypes: []string{"InvalidParams"},
	},
}

// auditWriter records facts in the order the workflow produced them, one
// local activity at a time, from its own coroutine: the interpreter only
// appends to the queue and never waits for a write, so a slow or failing
// audit store neither delays nor fails containment. A fact that cannot be
// written is logged and dropped.
//
// The worker must register a function taking AuditFact under
// AuditActivityName (events/audit.RecordActivity.RecordFact): a local
// activity receives the workflow's Go value as is, not a decoded payload,
// so a function taking audit.Record would be called with the wrong type.
type auditWriter struct {
	incident string
	run      string
	queue    []AuditFact
	busy     bool
	evidence int // evidence facts so far (keys for evidence without an id)
	// head is the audit chain head after the last write (auditHeadVersion):
	// the incident's state carries it, so its result holds the close head.
	head *AuditHead
}

// startAuditWriter starts the writer coroutine. It runs on a disconnected
// context: an abort or a workflow cancellation must not stop the record of
// how the incident ended.
func startAuditWriter(ctx workflow.Context, in IncidentInput) *auditWriter {
	w := &auditWriter{incident: in.IncidentID, run: workflow.GetInfo(ctx).WorkflowExecution.RunID}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(dctx, func(gctx workflow.Context) {
		lctx := workflow.WithLocalActivityOptions(gctx, auditOptions)
		batched := workflow.GetVersion(gctx, auditBatchVersion, workflow.DefaultVersion, 1) >= 1
		heads := workflow.GetVersion(gctx, auditHeadVersion, workflow.DefaultVersion, 1) >= 1
		for {
			_ = workflow.Await(gctx, func() bool { return len(w.queue) > 0 })
			n := 1
			if batched {
				n = min(len(w.queue), maxAuditBatch)
			}
			facts := w.queue[:n:n]
			w.queue = w.queue[n:]
			w.busy = true
			var err error
			var head AuditHead
			var got *AuditHead
			if heads {
				got = &head
			}
			if n == 1 {
				err = workflow.ExecuteLocalActivity(lctx, AuditActivityName, facts[0]).Get(lctx, got)
			} else {
				// Several facts waited (evidence of a storm, a burst of
				// skipped steps): one local activity writes them in order.
				err = workflow.ExecuteLocalActivity(lctx, AuditBatchActivityName, facts).Get(lctx, got)
			}
			if err == nil && head.Seq > 0 {
				w.head = &head
			}
			w.busy = false
			if err != nil {
				f := facts[0]
				workflow.GetLogger(gctx).Error("audit facts not recorded", "incident", f.IncidentID,
					"facts", n, "first_kind", f.Kind, "first_step", f.Step, "first_key", f.Key, "error", err)
			}
		}
	})
	return w
}

// add queues a fact stamped with the incident, run and workflow time.
func (w *auditWriter) add(ctx workflow.Context, f AuditFact) {
	f.IncidentID, f.Run, f.Time = w.incident, w.run, workflow.Now(ctx)
	w.queue = append(w.queue, f)
}

// wait blocks until every queued fact has been written or given up on.
// Every write is bounded by auditOptions, so this ends.
func (w *auditWriter) wait(ctx workflow.Context) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = workflow.Await(dctx, func() bool { return len(w.queue) == 0 && !w.busy })
}

// record queues a fact when the incident is audited (IncidentInput.Audit).
func (r *run) record(ctx workflow.Context, f AuditFact) {
	if r.audit != nil {
		r.audit.add(ctx, f)
	}
}

// recordEvidence queues an evidence.added fact.
func (r *run) recordEvidence(ctx workflow.Context, ev Evidence) {
	if r.audit != nil {
		r.audit.evidence++
		r.audit.add(ctx, evidenceFact(ev.EventID, ev.Subject, r.audit.evidence))
	}
}

// takeEvidence handles one SignalEvidence: keep it unless its event id was
// seen, and record an evidence.added fact for it.
func (r *run) takeEvidence(ctx workflow.Context, ev Evidence) {
	if r.addEvidence(ev) {
		r.recordEvidence(ctx, ev)
	}
}

// takeEvidenceBatch handles one SignalEvidenceBatch: each element exactly
// like one SignalEvidence, in order (a duplicate id inside the batch or of
// earlier evidence is dropped as it would be from single signals).
func (r *run) takeEvidenceBatch(ctx workflow.Context, batch []Evidence) {
	for _, ev := range batch {
		r.takeEvidence(ctx, ev)
	}
}
