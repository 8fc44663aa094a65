package temporalstart

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// EagerStarter implements ingest.Starter with an eager workflow start: when
// the trigger consumer runs in the worker's process and shares its client,
// the server hands the first workflow task straight back in the start
// response and the local worker runs it, skipping the task queue round trip
// (measured by `runbook bench`: the floor's publish → first activity drops
// from ~46 ms to ~10 ms p50 here). SignalWithStart cannot be eager, so:
//
//  1. Start (eager), failing if the id exists (running, or closed under
//     REJECT_DUPLICATE): success means a new incident. The trigger event is
//     the incident's input; it is not signalled again as evidence
//     (evidence is later events).
//  2. Otherwise Signal the evidence: success means it joined the running
//     incident; NotFound means the incident already ended (Closed).
//
// Later events of the same batch (req.MoreEvidence) go in one
// SignalEvidenceBatch call: after a start, the batch is MoreEvidence; into
// a running incident, it is Evidence followed by MoreEvidence (one call
// instead of a SignalEvidence). With no MoreEvidence the calls are exactly
// the single-event ones.
//
// A redelivered event whose start succeeded but whose ack was lost takes
// path 2 and is signalled as evidence; the workflow dedups evidence by
// event id. Without a local worker on TaskQueue the start is an ordinary
// one. The client must use the same data converter (and codec) as the
// worker.
type EagerStarter struct {
	Client    client.Client
	TaskQueue string // default workflows.DefaultTaskQueue
	Actions   runbooks.Catalog
	// Sign signs each start with the engine key (IncidentInput.Authorization);
	// nil: starts are unsigned and the workflow refuses them.
	Sign Signer
	// Trigger is recorded and signed with each start ("" = TriggerEvent;
	// TriggerFleet for incident.start_many's per-bot starts).
	Trigger string
	// Lazy turns eager dispatch off (same two-call protocol), for
	// measuring what eager start buys.
	Lazy bool
	// SearchAttributes, when set, gives a new incident its search
	// attributes (bot, exchange, severity, runbook) for the Web UI.
	SearchAttributes func(ingest.StartRequest) temporal.SearchAttributes
	// Context, when set, derives the start's context from the request —
	// the event's trace context, which the client's tracing interceptor
	// then carries into the workflow's header.
	Context func(context.Context, ingest.StartRequest) (context.Context, func())
}

var _ ingest.Starter = (*EagerStarter)(nil)

// StartOrSignal implements ingest.Starter.
func (s *EagerStarter) StartOrSignal(ctx context.Context, req ingest.StartRequest) (ingest.StartResult, error) {
	if s.Client == nil {
		return ingest.StartResult{}, errors.New("temporalstart: no Client")
	}
	actions, err := ResolveActions(req.Runbook, s.Actions)
	if err != nil {
		return ingest.StartResult{}, err
	}
	in := req.IncidentInput(actions)
	if err := authorize(&in, s.Trigger, s.Sign, time.Now()); err != nil {
		return ingest.StartResult{}, err
	}
	tq := s.TaskQueue
	if tq == "" {
		tq = workflows.DefaultTaskQueue
	}
	if s.Context != nil {
		var done func()
		ctx, done = s.Context(ctx, req)
		defer done()
	}
	opts := client.StartWorkflowOptions{
		ID:                                       req.IncidentID,
		TaskQueue:                                tq,
		EnableEagerStart:                         !s.Lazy,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	if s.SearchAttributes != nil {
		opts.TypedSearchAttributes = s.SearchAttributes(req)
	}
	_, err = s.Client.ExecuteWorkflow(ctx, opts, workflows.IncidentWorkflowName, in)
	if err == nil {
		if len(req.MoreEvidence) > 0 {
			err = s.Client.SignalWorkflow(ctx, req.IncidentID, "", workflows.SignalEvidenceBatch, req.MoreEvidence)
			var nf *serviceerror.NotFound
			if err != nil && !errors.As(err, &nf) {
				// The consumer retries the whole request: the start is
				// then refused and everything is signalled as one batch
				// (the workflow drops event ids it already has).
				return ingest.StartResult{}, fmt.Errorf("signal %s after start: %w", req.IncidentID, err)
			}
			// NotFound: the new incident already ended; the later events
			// belong to a handled breach, as for a Closed one.
		}
		return ingest.StartResult{IncidentID: req.IncidentID, Started: true}, nil
	}
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &already) {
		return ingest.StartResult{}, fmt.Errorf("start %s: %w", req.IncidentID, err)
	}
	if len(req.MoreEvidence) == 0 {
		err = s.Client.SignalWorkflow(ctx, req.IncidentID, "", workflows.SignalEvidence, req.Evidence)
	} else {
		err = s.Client.SignalWorkflow(ctx, req.IncidentID, "", workflows.SignalEvidenceBatch, allEvidence(req))
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return ingest.StartResult{IncidentID: req.IncidentID, Closed: true}, nil
	}
	if err != nil {
		return ingest.StartResult{}, fmt.Errorf("signal %s: %w", req.IncidentID, err)
	}
	return ingest.StartResult{IncidentID: req.IncidentID}, nil
}

// allEvidence is Evidence followed by MoreEvidence, in stream order.
func allEvidence(req ingest.StartRequest) []workflows.Evidence {
	all := make([]workflows.Evidence, 0, 1+len(req.MoreEvidence))
	return append(append(all, req.Evidence), req.MoreEvidence...)
}
