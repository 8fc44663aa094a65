package temporalstart

import (
	"context"
	"errors"
	"strings"
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
	signalErr     error
	endAtStart    bool // a started incident has ended before any signal
	starts        []client.StartWorkflowOptions
	inputs        []workflows.IncidentInput
	signals       []workflows.Evidence
	batches       [][]workflows.Evidence
	calls         []string // "start", "signal" or "batch", in order
}

func (f *fakeClient) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.starts = append(f.starts, o)
	f.calls = append(f.calls, "start")
	if f.startErr != nil {
		return nil, f.startErr
	}
	if f.running[o.ID] || f.closed[o.ID] {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already", "", "run-0")
	}
	f.running[o.ID] = true
	if f.endAtStart {
		f.running[o.ID], f.closed[o.ID] = false, true
	}
	f.inputs = append(f.inputs, args[0].(workflows.IncidentInput))
	return nil, nil
}

func (f *fakeClient) SignalWorkflow(_ context.Context, id, _ string, name string, arg any) error {
	if f.signalErr != nil {
		return f.signalErr
	}
	if f.closed[id] {
		return serviceerror.NewNotFound("workflow execution already completed")
	}
	switch name {
	case workflows.SignalEvidence:
		f.calls = append(f.calls, "signal")
		f.signals = append(f.signals, arg.(workflows.Evidence))
	case workflows.SignalEvidenceBatch:
		f.calls = append(f.calls, "batch")
		f.batches = append(f.batches, arg.([]workflows.Evidence))
	default:
		return errors.New("unexpected signal " + name)
	}
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
	s := &EagerStarter{Client: fc, TaskQueue: "tq"}
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
	if in := fc.inputs[0]; in.IncidentID != "rb:b" || in.Trigger != "event" || in.Authorization != nil {
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

func ids(evs []workflows.Evidence) string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.EventID)
	}
	return strings.Join(out, ",")
}

// With later events of the same batch: a start is followed by one batch
// signal of those events; a running incident gets the first event and the
// rest as one batch in a single call; a closed one still reports Closed.
func TestEagerStarterBatches(t *testing.T) {
	fc := &fakeClient{running: map[string]bool{}, closed: map[string]bool{"rb:old": true}}
	s := &EagerStarter{Client: fc}
	ctx := context.Background()

	req := eagerReq("rb:b", "e1")
	req.MoreEvidence = []workflows.Evidence{{EventID: "e2"}, {EventID: "e3"}}
	res, err := s.StartOrSignal(ctx, req)
	if err != nil || !res.Started || res.Closed {
		t.Fatalf("start: %+v %v", res, err)
	}
	if strings.Join(fc.calls, ",") != "start,batch" || ids(fc.batches[0]) != "e2,e3" || len(fc.signals) != 0 {
		t.Fatalf("after start: calls %v batches %v signals %v", fc.calls, fc.batches, fc.signals)
	}

	fc.calls = nil
	req = eagerReq("rb:b", "e4")
	req.MoreEvidence = []workflows.Evidence{{EventID: "e5"}}
	res, err = s.StartOrSignal(ctx, req)
	if err != nil || res.Started || res.Closed {
		t.Fatalf("running: %+v %v", res, err)
	}
	if strings.Join(fc.calls, ",") != "start,batch" || ids(fc.batches[1]) != "e4,e5" || len(fc.signals) != 0 {
		t.Fatalf("running: calls %v batches %v signals %v", fc.calls, fc.batches, fc.signals)
	}

	req = eagerReq("rb:old", "e6")
	req.MoreEvidence = []workflows.Evidence{{EventID: "e7"}}
	if res, err := s.StartOrSignal(ctx, req); err != nil || !res.Closed || res.Started {
		t.Fatalf("closed: %+v %v", res, err)
	}
}

// After a start, the batch signal can find the incident already ended
// (Started, nothing more to do) or fail (an error: the consumer retries
// the whole request, which then signals everything as one batch).
func TestEagerStarterBatchAfterStart(t *testing.T) {
	ctx := context.Background()
	req := eagerReq("rb:b", "e1")
	req.MoreEvidence = []workflows.Evidence{{EventID: "e2"}}

	fc := &fakeClient{running: map[string]bool{}, closed: map[string]bool{}, endAtStart: true}
	res, err := (&EagerStarter{Client: fc}).StartOrSignal(ctx, req)
	if err != nil || !res.Started || res.Closed {
		t.Fatalf("ended at once: %+v %v", res, err)
	}

	fc = &fakeClient{running: map[string]bool{}, closed: map[string]bool{}, signalErr: errors.New("unavailable")}
	s := &EagerStarter{Client: fc}
	if _, err := s.StartOrSignal(ctx, req); err == nil {
		t.Fatal("batch signal error swallowed")
	}
	fc.signalErr = nil
	res, err = s.StartOrSignal(ctx, req)
	if err != nil || res.Started || ids(fc.batches[0]) != "e1,e2" {
		t.Fatalf("retry: %+v %v batches %v", res, err, fc.batches)
	}
}
