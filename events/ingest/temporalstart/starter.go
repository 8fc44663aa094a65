// Package temporalstart is the Temporal implementation of ingest.Starter:
// one SignalWithStartWorkflowExecution per matched event (plus one
// SignalEvidenceBatch for the later events of the same fetched batch), with
// the deterministic incident id as workflow id, so a storm of events for one
// bot starts one incident and signals the rest into it as evidence.
// EagerStarter is the eager-start variant (eager.go).
//
// It calls the WorkflowService directly rather than client.SignalWithStart
// because only the raw response says whether the call started a new run
// (SignalWithStartWorkflowExecutionResponse.started), which the blast-radius
// limiter and the stats need. Consequence: client interceptors and context
// propagators are not applied; payloads go through DataConverter, which must
// be the same converter (and codec) the worker uses.
package temporalstart

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// Service is the WorkflowService methods used; client.Client's
// WorkflowService() satisfies it. SignalWorkflowExecution delivers the
// batch of later events (StartRequest.MoreEvidence).
type Service interface {
	SignalWithStartWorkflowExecution(ctx context.Context, in *workflowservice.SignalWithStartWorkflowExecutionRequest, opts ...grpc.CallOption) (*workflowservice.SignalWithStartWorkflowExecutionResponse, error)
	SignalWorkflowExecution(ctx context.Context, in *workflowservice.SignalWorkflowExecutionRequest, opts ...grpc.CallOption) (*workflowservice.SignalWorkflowExecutionResponse, error)
}

// Starter implements ingest.Starter with Temporal SignalWithStart.
type Starter struct {
	Service   Service
	Namespace string // default "default"
	TaskQueue string // default workflows.DefaultTaskQueue
	// Actions resolves the side-effect class and compensation of each
	// action for the workflow input.
	Actions runbooks.Catalog
	// DataConverter encodes input and signal; default
	// converter.GetDefaultDataConverter(). Pass the codec-wrapped one when
	// the worker uses payload encryption.
	DataConverter converter.DataConverter
	Identity      string
	// Sign signs each start with the engine key (IncidentInput.Authorization);
	// nil: starts are unsigned and the workflow refuses them.
	Sign Signer
	// Trigger is recorded and signed with each start ("" = TriggerEvent).
	Trigger string
	// SearchAttributes, when set, gives the new incident its search
	// attributes (bot, exchange, severity, runbook) for the Web UI.
	SearchAttributes func(ingest.StartRequest) (*commonpb.SearchAttributes, error)
	// Header, when set, gives the start request its Temporal header (the
	// event's trace context, so the workflow's spans join the event's trace).
	Header func(context.Context, ingest.StartRequest) (*commonpb.Header, error)
}

var _ ingest.Starter = (*Starter)(nil)

// StartOrSignal implements ingest.Starter. The workflow receives the
// trigger event's Evidence as a signal on start too (SignalWithStart always
// delivers the signal), so the workflow should treat evidence idempotently
// by EventID. req.MoreEvidence follows in one SignalEvidenceBatch call once
// the SignalWithStart succeeded (two calls for a batch, one without).
func (s *Starter) StartOrSignal(ctx context.Context, req ingest.StartRequest) (ingest.StartResult, error) {
	if s.Service == nil {
		return ingest.StartResult{}, errors.New("temporalstart: no Service")
	}
	actions, err := ResolveActions(req.Runbook, s.Actions)
	if err != nil {
		return ingest.StartResult{}, err
	}
	dc := s.DataConverter
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	in := req.IncidentInput(actions)
	if err := authorize(&in, s.Trigger, s.Sign, time.Now()); err != nil {
		return ingest.StartResult{}, err
	}
	input, err := dc.ToPayloads(in)
	if err != nil {
		return ingest.StartResult{}, fmt.Errorf("encode incident input: %w", err)
	}
	signal, err := dc.ToPayloads(req.Evidence)
	if err != nil {
		return ingest.StartResult{}, fmt.Errorf("encode evidence: %w", err)
	}
	var sa *commonpb.SearchAttributes
	if s.SearchAttributes != nil {
		if sa, err = s.SearchAttributes(req); err != nil {
			return ingest.StartResult{}, fmt.Errorf("search attributes: %w", err)
		}
	}
	var header *commonpb.Header
	if s.Header != nil {
		if header, err = s.Header(ctx, req); err != nil {
			return ingest.StartResult{}, fmt.Errorf("trace header: %w", err)
		}
	}
	ns := s.Namespace
	if ns == "" {
		ns = "default"
	}
	tq := s.TaskQueue
	if tq == "" {
		tq = workflows.DefaultTaskQueue
	}
	resp, err := s.Service.SignalWithStartWorkflowExecution(ctx, &workflowservice.SignalWithStartWorkflowExecutionRequest{
		Namespace:        ns,
		WorkflowId:       req.IncidentID,
		WorkflowType:     &commonpb.WorkflowType{Name: workflows.IncidentWorkflowName},
		TaskQueue:        &taskqueuepb.TaskQueue{Name: tq, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		Input:            input,
		SignalName:       workflows.SignalEvidence,
		SearchAttributes: sa,
		Header:           header,
		SignalInput:      signal,
		Identity:         s.Identity,
		// Same request id for a redelivery of the same event, so a retry
		// after a lost response is recognised by the server.
		RequestId: uuid.NewSHA1(uuid.NameSpaceURL, []byte(req.IncidentID+"\x00"+req.Evidence.EventID)).String(),
		// A running incident gets the signal. A closed one is not started
		// again: the id already carries the breach's dedup key (the leaked
		// key id in the shipped runbooks), so a repeat is the same breach,
		// and restarting an incident that failed, once per event of a
		// storm, would loop. On-call restarts it with `runbook exec`.
		WorkflowIdConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIdReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return ingest.StartResult{IncidentID: req.IncidentID, Closed: true}, nil
	}
	if err != nil {
		return ingest.StartResult{}, err
	}
	res := ingest.StartResult{IncidentID: req.IncidentID, Started: resp.GetStarted()}
	if len(req.MoreEvidence) == 0 {
		return res, nil
	}
	batch, err := dc.ToPayloads(req.MoreEvidence)
	if err != nil {
		return ingest.StartResult{}, fmt.Errorf("encode evidence batch: %w", err)
	}
	_, err = s.Service.SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{
		Namespace:         ns,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: req.IncidentID},
		SignalName:        workflows.SignalEvidenceBatch,
		Input:             batch,
		Identity:          s.Identity,
		Header:            header,
		RequestId:         batchRequestID(req),
	})
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		// The incident ended between the two calls: the later events
		// belong to a handled breach. If this call did not start it, that
		// is the Closed case.
		res.Closed = !res.Started
		return res, nil
	}
	if err != nil {
		// The consumer retries the whole request; the workflow drops the
		// event ids it already has.
		return ingest.StartResult{}, fmt.Errorf("signal evidence batch to %s: %w", req.IncidentID, err)
	}
	return res, nil
}

// batchRequestID is the same for a redelivery of the same batch, so the
// server recognises a retried signal.
func batchRequestID(req ingest.StartRequest) string {
	key := req.IncidentID + "\x00batch"
	for _, ev := range req.MoreEvidence {
		key += "\x00" + ev.EventID
	}
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(key)).String()
}

// ResolveActions returns the ActionMeta of every action the runbook uses,
// including parallel children and compensations, so the workflow never
// consults the registry. A nil catalog yields nil (no metadata).
func ResolveActions(rb runbooks.Runbook, cat runbooks.Catalog) (map[string]runbooks.ActionMeta, error) {
	if cat == nil {
		return nil, nil
	}
	out := map[string]runbooks.ActionMeta{}
	var add func(name string) error
	add = func(name string) error {
		if name == "" {
			return nil
		}
		if _, done := out[name]; done {
			return nil
		}
		spec, ok := cat.Action(name)
		if !ok {
			return fmt.Errorf("runbook %s uses unknown action %q", rb.Name, name)
		}
		out[name] = spec.Meta()
		if spec.Compensation != nil {
			return add(spec.Compensation.Action)
		}
		return nil
	}
	var walk func(steps []runbooks.Step) error
	walk = func(steps []runbooks.Step) error {
		for _, st := range steps {
			if err := add(st.Action); err != nil {
				return err
			}
			if st.Compensate != nil {
				if err := add(st.Compensate.Action); err != nil {
					return err
				}
			}
			if err := walk(st.Parallel); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(rb.Steps); err != nil {
		return nil, err
	}
	return out, nil
}
