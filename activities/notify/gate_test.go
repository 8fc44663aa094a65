package notify_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// The whole loop on the real interpreter: a gate with an SMS second factor
// starts waiting, notify.ask_approvers texts its approver (twiliosim), the
// approver replies APPROVE <code> to the signed webhook, the GateResponder
// relays it as an engine-signed decision, and the workflow's validator
// (the worker's authz.Live) accepts it: the gate is approved by alice,
// with the sms-reply factor, via the engine.
func TestGateTextsApproverAndTheReplyApproves(t *testing.T) {
	f := newAskFixture(t)
	live := &authz.Live{}
	live.Set(f.roster, factorKey)

	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	workflows.Register(env, live)
	client, err := sms.New(sms.Config{Credentials: sms.Credentials{AccountSID: sid, AuthToken: token}, From: twilioNum, BaseURL: f.sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	notify.RegisterAskApprovers(env, notify.AskDeps{Sender: client, Roster: live.Policy, Secrets: live.Secrets,
		CodeKey: codeKey, Sent: f.store, Acks: f.store, Now: env.Now})

	decided := make(chan sms.GateDecision, 1)
	resp := sms.GateResponder{Acks: f.store, Operators: live.Policy, Now: env.Now,
		Decider: deciderFunc(func(d sms.GateDecision) { decided <- d }),
		Sign:    func(st authz.Statement) (authz.Signed, error) { return operatorkey.Sign(f.engine, st) }}
	wh, err := sms.NewWebhook(sms.WebhookConfig{AuthToken: token, Operators: live.Policy, Acks: f.store, Responder: resp, Now: env.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wh)
	t.Cleanup(srv.Close)

	var rb runbooks.Runbook
	if err := yaml.Unmarshal([]byte(`name: unfreeze-demo
steps:
  - id: unfreeze
    approval: {group: oncall, message: "unfreeze bot grid-7?", second_factor: sms}
`), &rb); err != nil {
		t.Fatal(err)
	}
	in := workflows.IncidentInput{IncidentID: "inc-grid7", Runbook: rb, RunbookHash: "sha256:test", Trigger: "event"}
	policy := authz.Policy{Operators: f.roster.Operators(), EngineKeys: []string{operatorkey.AuthorizedKey(f.engine.PublicKey(), "")},
		Registered: map[string]string{in.RunbookHash: rb.Name}}
	c, err := authz.Compile(policy)
	if err != nil {
		t.Fatal(err)
	}
	live.Set(c, factorKey)
	f.roster = c
	signed, err := operatorkey.Sign(f.engine, authz.Statement{Verb: authz.VerbExec, Operator: authz.EngineName, Incident: in.IncidentID,
		Runbook: rb.Name, RunbookHash: in.RunbookHash, Inputs: authz.StartHash(in.Inputs, in.Event), Trigger: "event",
		IssuedAt: env.Now(), Expires: env.Now().Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	in.Authorization = &signed

	var updateErr error
	updated := false
	env.RegisterDelayedCallback(func() {
		msgs := f.sim.MessagesTo(alice)
		if len(msgs) != 1 {
			t.Errorf("alice got %d texts", len(msgs))
			return
		}
		body := msgs[0].Body
		code := body[strings.LastIndex(body, " ")+1:]
		if !strings.Contains(body, "--sms-code "+code) {
			t.Errorf("text %q", body)
		}
		if r := f.reply(t, srv.URL+"/sms/inbound", alice, "APPROVE "+code); !strings.Contains(r, "Approval "+code+" recorded") {
			t.Errorf("reply %q", r)
			return
		}
		d := <-decided
		env.UpdateWorkflow(workflows.UpdateApprove, "sms-1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { updateErr = err },
			OnAccept:   func() {},
			OnComplete: func(_ any, err error) { updated, updateErr = err == nil, err },
		}, workflows.Decision{Step: d.Gate, Identity: d.Operator, Comment: d.Comment, Signed: &d.Signed})
	}, time.Minute)
	env.ExecuteWorkflow(workflows.IncidentWorkflowName, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if !updated || updateErr != nil {
		t.Fatalf("update: %v", updateErr)
	}
	var st workflows.IncidentState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	var g workflows.StepState
	for _, s := range st.Steps {
		if s.ID == "unfreeze" {
			g = s
		}
	}
	if g.Status != workflows.StatusSucceeded || len(g.Approvals) != 1 || g.Approvals[0].Operator != "alice" ||
		g.Approvals[0].Via != authz.EngineName || g.Approvals[0].Factor != authz.FactorSMSReply {
		t.Fatalf("gate %+v", g)
	}
	if len(f.sim.MessagesTo(dave)) != 1 || len(f.sim.MessagesTo(bob)) != 0 {
		t.Fatalf("dave %d, bob %d texts", len(f.sim.MessagesTo(dave)), len(f.sim.MessagesTo(bob)))
	}
}
