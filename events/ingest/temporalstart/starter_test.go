package temporalstart

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// fakeService plays the part of the frontend: the first request for a
// workflow id starts it, later ones only signal.
type fakeService struct {
	running map[string]bool
	reqs    []*workflowservice.SignalWithStartWorkflowExecutionRequest
	err     error
}

func (f *fakeService) SignalWithStartWorkflowExecution(_ context.Context, in *workflowservice.SignalWithStartWorkflowExecutionRequest, _ ...grpc.CallOption) (*workflowservice.SignalWithStartWorkflowExecutionResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	f.reqs = append(f.reqs, in)
	started := !f.running[in.WorkflowId]
	f.running[in.WorkflowId] = true
	return &workflowservice.SignalWithStartWorkflowExecutionResponse{RunId: "run-1", Started: started}, nil
}

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
