package temporalstart

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// fakeService plays the part of the frontend: the first request for a
// workflow id starts it, later ones only signal. Ids in gone are not found
// by SignalWorkflowExecution (the incident ended in between); signalErr
// fails it.
type fakeService struct {
	running   map[string]bool
	gone      map[string]bool
	reqs      []*workflowservice.SignalWithStartWorkflowExecutionRequest
	signals   []*workflowservice.SignalWorkflowExecutionRequest
	err       error
	signalErr error
	calls     []string // "sws" or "signal", in order
}

func (f *fakeService) SignalWorkflowExecution(_ context.Context, in *workflowservice.SignalWorkflowExecutionRequest, _ ...grpc.CallOption) (*workflowservice.SignalWorkflowExecutionResponse, error) {
	f.calls = append(f.calls, "signal")
	if f.signalErr != nil {
		return nil, f.signalErr
	}
	if f.gone[in.GetWorkflowExecution().GetWorkflowId()] {
		return nil, serviceerror.NewNotFound("workflow execution already completed")
	}
	f.signals = append(f.signals, in)
	return &workflowservice.SignalWorkflowExecutionResponse{}, nil
}

func (f *fakeService) SignalWithStartWorkflowExecution(_ context.Context, in *workflowservice.SignalWithStartWorkflowExecutionRequest, _ ...grpc.CallOption) (*workflowservice.SignalWithStartWorkflowExecutionResponse, error) {
	f.calls = append(f.calls, "sws")
	if f.err != nil {
		return nil, f.err
	}
	f.reqs = append(f.reqs, in)
	started := !f.running[in.WorkflowId]
	f.running[in.WorkflowId] = true
	return &workflowservice.SignalWithStartWorkflowExecutionResponse{RunId: "run-1", Started: started}, nil
}

// The real client (client.Client.WorkflowService()) must satisfy Service.
var _ Service = workflowservice.WorkflowServiceClient(nil)

type catalog map[string]runbooks.ActionSpec

func (c catalog) Action(n string) (runbooks.ActionSpec, bool) { s, ok := c[n]; return s, ok }
func (c catalog) Actions() []runbooks.ActionSpec {
	var out []runbooks.ActionSpec
	for _, s := range c {
		out = append(out, s)
	}
	return out
}

var cat = catalog{
	"bot.freeze":          {Name: "bot.freeze", SideEffect: runbooks.Reversible, Compensation: &runbooks.CompensationSpec{Action: "bot.unfreeze"}},
	"bot.unfreeze":        {Name: "bot.unfreeze", SideEffect: runbooks.Reversible},
	"exchange.revoke_key": {Name: "exchange.revoke_key", SideEffect: runbooks.Irreversible},
	"sms.send":            {Name: "sms.send", SideEffect: runbooks.Irreversible},
}

func request(eventID string) ingest.StartRequest {
	return ingest.StartRequest{
		IncidentID:  "contain-key-breach:bot-1",
		RunbookHash: "sha256:abc",
		Runbook: runbooks.Runbook{Name: "contain-key-breach", Steps: []runbooks.Step{
			{ID: "freeze", Action: "bot.freeze"},
			{ID: "both", Parallel: []runbooks.Step{{ID: "revoke", Action: "exchange.revoke_key"}, {ID: "sms", Action: "sms.send"}}},
		}},
		Inputs:           map[string]any{"bot": "bot-1"},
		Event:            map[string]any{"id": eventID},
		Evidence:         workflows.Evidence{EventID: eventID, Subject: "breach.bot-1.key_leaked"},
		StartedBy:        "/test",
		HoldIrreversible: true, HoldIrreversibleReason: "cap",
	}
}

func TestSignalWithStart(t *testing.T) {
	svc := &fakeService{running: map[string]bool{}}
	s := &Starter{Service: svc, Actions: cat}
	res, err := s.StartOrSignal(context.Background(), request("e1"))
	if err != nil || !res.Started || res.IncidentID != "contain-key-breach:bot-1" {
		t.Fatalf("first: %+v %v", res, err)
	}
	res, err = s.StartOrSignal(context.Background(), request("e2"))
	if err != nil || res.Started {
		t.Fatalf("second: %+v %v", res, err)
	}
	r := svc.reqs[0]
	if r.WorkflowId != "contain-key-breach:bot-1" || r.WorkflowType.GetName() != workflows.IncidentWorkflowName ||
		r.TaskQueue.GetName() != workflows.DefaultTaskQueue || r.SignalName != workflows.SignalEvidence || r.Namespace != "default" {
		t.Fatalf("request %v", r)
	}
	if r.RequestId == svc.reqs[1].RequestId {
		t.Fatal("different events share a request id")
	}
	var in workflows.IncidentInput
	if err := converter.GetDefaultDataConverter().FromPayloads(r.Input, &in); err != nil {
		t.Fatal(err)
	}
	if in.IncidentID != "contain-key-breach:bot-1" || in.Trigger != "event" || !in.HoldIrreversible || in.RunbookHash != "sha256:abc" {
		t.Fatalf("input %+v", in)
	}
	for name, want := range map[string]runbooks.SideEffect{"bot.freeze": runbooks.Reversible, "bot.unfreeze": runbooks.Reversible, "exchange.revoke_key": runbooks.Irreversible, "sms.send": runbooks.Irreversible} {
		if in.Actions[name].SideEffect != want {
			t.Errorf("action %s: %+v", name, in.Actions[name])
		}
	}
	var ev workflows.Evidence
	if err := converter.GetDefaultDataConverter().FromPayloads(svc.reqs[1].SignalInput, &ev); err != nil || ev.EventID != "e2" {
		t.Fatalf("signal %+v %v", ev, err)
	}
}

func TestErrors(t *testing.T) {
	s := &Starter{Service: &fakeService{err: errors.New("unavailable")}, Actions: cat}
	if _, err := s.StartOrSignal(context.Background(), request("e1")); err == nil {
		t.Fatal("service error swallowed")
	}
	r := request("e1")
	r.Runbook.Steps = append(r.Runbook.Steps, runbooks.Step{ID: "x", Action: "nope.nope"})
	s = &Starter{Service: &fakeService{running: map[string]bool{}}, Actions: cat}
	if _, err := s.StartOrSignal(context.Background(), r); err == nil {
		t.Fatal("unknown action accepted")
	}
}

func more(ids ...string) []workflows.Evidence {
	var out []workflows.Evidence
	for _, id := range ids {
		out = append(out, workflows.Evidence{EventID: id, Subject: "breach.bot-1.key_leaked"})
	}
	return out
}

func batchIDs(t *testing.T, in *workflowservice.SignalWorkflowExecutionRequest) []string {
	t.Helper()
	var evs []workflows.Evidence
	if err := converter.GetDefaultDataConverter().FromPayloads(in.Input, &evs); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.EventID)
	}
	return ids
}

// SignalWithStart carries the first event; the rest of the batch follows
// in one evidence-batch signal, whether the call started the incident or
// joined it. Without MoreEvidence there is no second call.
func TestSignalWithStartThenOneBatch(t *testing.T) {
	svc := &fakeService{running: map[string]bool{}}
	s := &Starter{Service: svc, Actions: cat, Namespace: "ns", Identity: "consumer"}
	req := request("e1")
	req.MoreEvidence = more("e2", "e3")
	res, err := s.StartOrSignal(context.Background(), req)
	if err != nil || !res.Started || res.Closed {
		t.Fatalf("first: %+v %v", res, err)
	}
	if got := strings.Join(svc.calls, ","); got != "sws,signal" {
		t.Fatalf("calls %s", got)
	}
	var first workflows.Evidence
	if err := converter.GetDefaultDataConverter().FromPayloads(svc.reqs[0].SignalInput, &first); err != nil || first.EventID != "e1" {
		t.Fatalf("signal-with-start evidence %+v %v", first, err)
	}
	b := svc.signals[0]
	if b.SignalName != workflows.SignalEvidenceBatch || b.Namespace != "ns" || b.GetWorkflowExecution().GetWorkflowId() != req.IncidentID ||
		b.Identity != "consumer" || b.RequestId == "" {
		t.Fatalf("batch signal %v", b)
	}
	if got := strings.Join(batchIDs(t, b), ","); got != "e2,e3" {
		t.Fatalf("batch %s", got)
	}

	// Joining the running incident: same two calls, Started false.
	req = request("e4")
	req.MoreEvidence = more("e5")
	res, err = s.StartOrSignal(context.Background(), req)
	if err != nil || res.Started || res.Closed || strings.Join(batchIDs(t, svc.signals[1]), ",") != "e5" {
		t.Fatalf("second: %+v %v", res, err)
	}
	// A redelivered batch has the same request id, another batch another.
	again := request("e4")
	again.MoreEvidence = more("e5")
	if _, err := s.StartOrSignal(context.Background(), again); err != nil || svc.signals[2].RequestId != svc.signals[1].RequestId || svc.signals[1].RequestId == svc.signals[0].RequestId {
		t.Fatalf("request ids %q %q %q (%v)", svc.signals[0].RequestId, svc.signals[1].RequestId, svc.signals[2].RequestId, err)
	}

	// No MoreEvidence: one call, as before.
	svc.calls = nil
	if _, err := s.StartOrSignal(context.Background(), request("e6")); err != nil || strings.Join(svc.calls, ",") != "sws" {
		t.Fatalf("single event: calls %v %v", svc.calls, err)
	}
}

// The incident ends between the two calls: the later events belong to a
// handled breach. A batch signal that fails otherwise is an error (the
// consumer retries everything; the workflow drops ids it already has).
func TestBatchSignalAfterSignalWithStartFails(t *testing.T) {
	ctx := context.Background()
	req := request("e1")
	req.MoreEvidence = more("e2")

	svc := &fakeService{running: map[string]bool{}, gone: map[string]bool{req.IncidentID: true}}
	s := &Starter{Service: svc, Actions: cat}
	res, err := s.StartOrSignal(ctx, req)
	if err != nil || !res.Started || res.Closed {
		t.Fatalf("started, then ended at once: %+v %v", res, err)
	}
	res, err = s.StartOrSignal(ctx, req)
	if err != nil || res.Started || !res.Closed {
		t.Fatalf("joined, then ended: %+v %v", res, err)
	}

	svc = &fakeService{running: map[string]bool{}, signalErr: errors.New("unavailable")}
	s = &Starter{Service: svc, Actions: cat}
	if _, err := s.StartOrSignal(ctx, req); err == nil {
		t.Fatal("batch signal error swallowed")
	}
}
