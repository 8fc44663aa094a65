package temporalstart

import (
	"context"
	"errors"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// fakeClient plays the frontend for EagerStarter: ids in running are
// running, ids in closed ended (REJECT_DUPLICATE: a start is refused and a
// signal finds nothing).
type fakeClient struct {
	client.Client // unused methods panic
	running       map[string]bool
	closed        map[string]bool
	startErr      error
	starts        []client.StartWorkflowOptions
	inputs        []workflows.IncidentInput
	signals       []workflows.Evidence
}

func (f *fakeClient) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.starts = append(f.starts, o)
	if f.startErr != nil {
		return nil, f.startErr
	}
	if f.running[o.ID] || f.closed[o.ID] {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already", "", "run-0")
	}
	f.running[o.ID] = true
	f.inputs = append(f.inputs, args[0].(workflows.IncidentInput))
	return nil, nil
}

func (f *fakeClient) SignalWorkflow(_ context.Context, id, _ string, name string, arg any) error {
	if f.closed[id] {
		return serviceerror.NewNotFound("workflow execution already completed")
	}
	if name != workflows.SignalEvidence {
		return errors.New("unexpected signal " + name)
	}
	f.signals = append(f.signals, arg.(workflows.Evidence))
	return nil
}

func eagerReq(id, event string) ingest.StartRequest {
	return ingest.StartRequest{IncidentID: id, Runbook: runbooks.Runbook{Name: "rb"},
		Evidence: workflows.Evidence{EventID: event}, Inputs: map[string]any{"bot": "b"}}
}

// A new id starts an incident (eagerly, never re-using a closed id); the
// same id while it runs gets the event as evidence; a closed one is
// reported Closed and nothing starts; other start errors are returned.
func TestEagerStarter(t *testing.T) {
	fc := &fakeClient{running: map[string]bool{}, closed: map[string]bool{"rb:old": true}}
	s := &EagerStarter{Client: fc, TaskQueue: "tq", Approvers: map[string][]string{"oncall": {"dana"}}}
	ctx := context.Background()

	res, err := s.StartOrSignal(ctx, eagerReq("rb:b", "e1"))
	if err != nil || !res.Started || res.Closed {
		t.Fatalf("first event: %+v %v", res, err)
	}
	o := fc.starts[0]
	if !o.EnableEagerStart || o.TaskQueue != "tq" || o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
		!o.WorkflowExecutionErrorWhenAlreadyStarted {
		t.Fatalf("start options %+v", o)
	}
	if in := fc.inputs[0]; in.IncidentID != "rb:b" || in.Trigger != "event" || in.Approvers["oncall"][0] != "dana" {
		t.Fatalf("input %+v", in)
	}
	if len(fc.signals) != 0 {
		t.Fatalf("the trigger event was also signalled: %+v", fc.signals)
	}

	res, err = s.StartOrSignal(ctx, eagerReq("rb:b", "e2"))
	if err != nil || res.Started || res.Closed || len(fc.signals) != 1 || fc.signals[0].EventID != "e2" {
		t.Fatalf("second event: %+v %v signals %+v", res, err, fc.signals)
	}

	res, err = s.StartOrSignal(ctx, eagerReq("rb:old", "e3"))
	if err != nil || !res.Closed || res.Started {
		t.Fatalf("event for a closed incident: %+v %v", res, err)
	}

	fc.startErr = errors.New("frontend unavailable")
	if _, err := s.StartOrSignal(ctx, eagerReq("rb:new", "e4")); err == nil {
		t.Fatal("a start error must be returned (the consumer retries)")
	}

	s.Lazy = true
	fc.startErr = nil
	if _, err := s.StartOrSignal(ctx, eagerReq("rb:lazy", "e5")); err != nil || fc.starts[len(fc.starts)-1].EnableEagerStart {
		t.Fatalf("lazy start: %v %+v", err, fc.starts[len(fc.starts)-1])
	}
}
