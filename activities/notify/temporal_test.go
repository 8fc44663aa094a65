package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
	"github.com/keyresponse/runbook/runbooks"
)

// pageWorkflow runs notify.sms as the interpreter does: one activity whose
// type is the action name, under a bounded retry policy.
func pageWorkflow(ctx workflow.Context, req runbooks.ActionRequest, maxAttempts int32) (runbooks.ActionResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: maxAttempts, NonRetryableErrorTypes: []string{"AuthenticationError", "PermissionError", "InvalidParams"}},
	})
	var res runbooks.ActionResult
	err := workflow.ExecuteActivity(ctx, req.Action, req).Get(ctx, &res)
	return res, err
}

// temporalEnv runs the fixture's action inside Temporal's test environment.
// The action's clock is the environment's, so the retry delays notify.sms
// asks for (the rest of the ack timeout) pass as Temporal timers.
func temporalEnv(t *testing.T, f *fixture) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	deps := f.deps
	deps.Now = env.Now
	reg, err := activities.NewRegistry(notify.SMS(deps))
	if err != nil {
		t.Fatal(err)
	}
	reg.RegisterWith(env)
	env.RegisterWorkflow(pageWorkflow)
	return env
}

func TestTemporalRetriesServerErrorsAndTextsOnce(t *testing.T) {
	f := newFixture(t, token)
	f.sim.FailNext(twiliosim.ServerError, 2)
	env := temporalEnv(t, f)
	env.ExecuteWorkflow(pageWorkflow, request(map[string]any{"message": "bot frozen"}), int32(5))
	var res runbooks.ActionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(f.sim.Messages()) != 1 || res.Attempt != 3 {
		t.Fatalf("%d messages, succeeded on attempt %d (want 1 message, attempt 3)", len(f.sim.Messages()), res.Attempt)
	}
}

func TestTemporalDoesNotRetryAuthFailure(t *testing.T) {
	f := newFixture(t, "wrongtoken0000")
	env := temporalEnv(t, f)
	env.ExecuteWorkflow(pageWorkflow, request(map[string]any{"message": "bot frozen"}), int32(5))
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "AuthenticationError") || f.sim.Requests() != 1 {
		t.Fatalf("%v; %d requests", err, f.sim.Requests())
	}
}

func TestTemporalEscalatesUntilSomeoneAnswers(t *testing.T) {
	f := newFixture(t, token)
	hook := f.webhook(t)
	env := temporalEnv(t, f)
	// Bob answers seven minutes in: after his page (at 5m), before carol's (10m).
	env.RegisterDelayedCallback(func() {
		body := f.to(bob)[0].Body
		code := body[strings.Index(body, "ACK ")+4:][:6]
		if r, err := f.sim.SendInbound(context.Background(), hook, twiliosim.Inbound{From: bob, To: twilioNum, Body: "ACK " + code}); err != nil || r.Status != 200 {
			t.Errorf("inbound: %v %+v", err, r)
		}
	}, 7*time.Minute)
	env.ExecuteWorkflow(pageWorkflow, request(map[string]any{"message": "bot frozen", "escalate": true}), int32(8))
	var res runbooks.ActionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Outputs["answered_by"] != "bob" || len(f.to(alice)) != 1 || len(f.to(bob)) != 1 || len(f.to(carol)) != 0 {
		t.Fatalf("outputs %v; alice %d, bob %d, carol %d", res.Outputs, len(f.to(alice)), len(f.to(bob)), len(f.to(carol)))
	}
}

// twoRuns runs the incident twice under one workflow id, as a rerun of an
// incident id does: each child is a new run with its own run id.
func twoRuns(ctx workflow.Context, req runbooks.ActionRequest) ([]runbooks.ActionResult, error) {
	var out []runbooks.ActionResult
	for range 2 {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: req.IncidentID})
		var res runbooks.ActionResult
		if err := workflow.ExecuteChildWorkflow(cctx, pageWorkflow, req, int32(3)).Get(ctx, &res); err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// The bug: run 2 of an incident id found run 1's "already texted" record
// and reported run 1's message SID as its own. Each run texts, with its
// own code, and records its own SID.
func TestTemporalSecondRunOfAnIncidentTextsAgain(t *testing.T) {
	f := newFixture(t, token)
	env := temporalEnv(t, f)
	env.RegisterWorkflow(twoRuns)
	env.ExecuteWorkflow(twoRuns, request(map[string]any{"message": "bot frozen", "reply": "approve"}))
	var res []runbooks.ActionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	msgs := f.to(alice)
	if len(msgs) != 2 || len(res) != 2 {
		t.Fatalf("%d texts, %d results", len(msgs), len(res))
	}
	for i, r := range res {
		if r.Outputs["message_sid"] != msgs[i].SID {
			t.Errorf("run %d reports %v, sent %s", i+1, r.Outputs["message_sid"], msgs[i].SID)
		}
		if code := r.Outputs["approval_code"].(string); !strings.Contains(msgs[i].Body, code) {
			t.Errorf("run %d: code %s not in its text %q", i+1, code, msgs[i].Body)
		}
	}
	c1, c2 := res[0].Outputs["approval_code"].(string), res[1].Outputs["approval_code"].(string)
	if c1 == c2 {
		t.Fatalf("both runs got code %s", c1)
	}
	p1, _, _ := f.store.Pending(context.Background(), c1)
	p2, _, _ := f.store.Pending(context.Background(), c2)
	if p1.Run == "" || p2.Run == "" || p1.Run == p2.Run || p1.ExpiresAt.IsZero() {
		t.Fatalf("pending run 1 %+v, run 2 %+v", p1, p2)
	}
}
