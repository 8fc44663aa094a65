package workflows

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// testRoster is a real roster with real keys: alice (admin: may change
// drills), bob (responder: may not), and the engine's key. carol has a key
// but is not in the roster.
type testRoster struct {
	t      *testing.T
	live   *authz.Live
	keys   map[string]ssh.Signer
	engine ssh.Signer
}

func newTestRoster(t *testing.T) *testRoster {
	t.Helper()
	gen := func() ssh.Signer {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		s, err := ssh.NewSignerFromKey(priv)
		require.NoError(t, err)
		return s
	}
	r := &testRoster{t: t, live: &authz.Live{}, engine: gen(),
		keys: map[string]ssh.Signer{"alice": gen(), "bob": gen(), "carol": gen()}}
	op := func(name, role string) authz.Operator {
		return authz.Operator{Name: name, Keys: []string{operatorkey.AuthorizedKey(r.keys[name].PublicKey(), name+"@test")}, Roles: []string{role}}
	}
	c, err := authz.Compile(authz.Policy{
		Operators:  []authz.Operator{op("alice", authz.RoleAdmin), op("bob", authz.RoleResponder)},
		EngineKeys: []string{operatorkey.AuthorizedKey(r.engine.PublicKey(), "engine")},
		Registered: map[string]string{"sha256:test": "rotate-keys"},
	})
	require.NoError(t, err)
	r.live.Set(c, nil)
	return r
}

// sign signs st with name's key, as name unless st names someone.
func (r *testRoster) sign(name string, st authz.Statement) *authz.Signed {
	r.t.Helper()
	if st.Operator == "" {
		st.Operator = name
	}
	if st.IssuedAt.IsZero() {
		st.IssuedAt = time.Now().Add(-time.Second)
	}
	if st.Expires.IsZero() {
		st.Expires = st.IssuedAt.Add(5 * time.Minute)
	}
	sg, err := operatorkey.Sign(r.keys[name], st)
	require.NoError(r.t, err)
	return &sg
}

// signEngineStart is what the worker's drill.sign_start activity does.
func (r *testRoster) signEngineStart(req DrillSignStartRequest) (authz.Signed, error) {
	now := time.Now()
	return operatorkey.Sign(r.engine, authz.Statement{Verb: authz.VerbExec, Operator: authz.EngineName, Incident: req.Incident,
		Runbook: req.Runbook, RunbookHash: req.RunbookHash, Inputs: req.Inputs, Trigger: "drill", IssuedAt: now, Expires: now.Add(5 * time.Minute)})
}

// scheduleStatement is the drill.schedule statement `drill schedule` signs.
func scheduleStatement(in DrillInput, valid time.Duration) authz.Statement {
	now := time.Now().Add(-time.Second)
	return authz.Statement{Verb: authz.VerbDrillSchedule, Schedule: in.ScheduleID, Runbook: in.Child.Runbook.Name,
		RunbookHash: in.Child.RunbookHash, Inputs: DrillStatementInputs(in), IssuedAt: now, Expires: now.Add(valid)}
}

// ctlHarness runs the drill controller with a fake schedule API.
type ctlHarness struct {
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	roster *testRoster
	mu     sync.Mutex
	calls  []DrillScheduleCall
	facts  []AuditFact
	n      int
}

func newCtlHarness(t *testing.T, maxUpdates int) *ctlHarness {
	var s testsuite.WorkflowTestSuite
	h := &ctlHarness{t: t, env: s.NewTestWorkflowEnvironment(), roster: newTestRoster(t)}
	c := &drillController{a: h.roster.live, maxUpdates: maxUpdates}
	h.env.RegisterWorkflowWithOptions(c.Run, workflow.RegisterOptions{Name: DrillControllerWorkflowName})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, call DrillScheduleCall) (string, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls = append(h.calls, call)
		return map[authz.Verb]string{authz.VerbDrillSchedule: "created", authz.VerbDrillPause: "paused",
			authz.VerbDrillUnpause: "unpaused", authz.VerbDrillDelete: "deleted", authz.VerbDrillTrigger: "triggered"}[call.Verb], nil
	}, activity.RegisterOptions{Name: DrillScheduleCallActivity})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, f AuditFact) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.facts = append(h.facts, f)
		return nil
	}, activity.RegisterOptions{Name: AuditActivityName})
	return h
}

type ctlResult struct {
	done, accepted bool
	res            DrillChangeResult
	err            error
}

func (h *ctlHarness) send(verb authz.Verb, req DrillChangeRequest) *ctlResult {
	r := &ctlResult{}
	h.n++
	h.env.UpdateWorkflow(string(verb), fmt.Sprintf("u-%d", h.n), &testsuite.TestUpdateCallback{
		OnAccept: func() { r.accepted = true },
		OnReject: func(err error) { r.err, r.done = err, true },
		OnComplete: func(v any, err error) {
			r.err, r.done = err, true
			if res, ok := v.(DrillChangeResult); ok {
				r.res = res
			}
		},
	}, req)
	return r
}

// run sends the updates built by steps, one per delayed callback, then
// ends the controller.
func (h *ctlHarness) run(steps ...func()) {
	for i, s := range steps {
		h.env.RegisterDelayedCallback(s, time.Duration(i+1)*time.Second)
	}
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Duration(len(steps)+1)*time.Second)
	h.env.ExecuteWorkflow(DrillControllerWorkflowName, DrillControllerInput{})
	require.True(h.t, h.env.IsWorkflowCompleted())
}

func (h *ctlHarness) drill() DrillInput {
	child := input(h.t, drillRunbook)
	child.Inputs = map[string]any{"bot": "bot-1"}
	return DrillInput{ScheduleID: "drill:rotate-keys:bot-1", Bot: "bot-1", Mode: DrillModeRotate, Child: child}
}

func (r *ctlResult) ok(t *testing.T) {
	t.Helper()
	require.True(t, r.done, "update got no answer")
	require.NoError(t, r.err)
	require.True(t, r.accepted)
}

func (r *ctlResult) refused(t *testing.T, want string) {
	t.Helper()
	require.True(t, r.done, "update got no answer")
	require.Error(t, r.err)
	require.False(t, r.accepted, "a refused change must be refused by the validator, before history")
	require.Contains(t, r.err.Error(), want)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(r.err, &ae), "%T", r.err)
}

// Given alice (admin) signs drill.schedule and then drill.pause,
// When she sends them to the controller,
// Then the schedule is created with her statement in every run's input and
// paused with a note naming her, each change returns and audits her
// verified identity.
func TestDrillControllerAuthorizedChanges(t *testing.T) {
	h := newCtlHarness(t, 0)
	d := h.drill()
	var sched, pause *ctlResult
	h.run(func() {
		sched = h.send(authz.VerbDrillSchedule, DrillChangeRequest{Schedule: d.ScheduleID, Drill: &d, Spec: DrillSpec{Every: time.Hour},
			Signed: h.roster.sign("alice", scheduleStatement(d, 30*24*time.Hour))})
	}, func() {
		pause = h.send(authz.VerbDrillPause, DrillChangeRequest{Schedule: d.ScheduleID, Note: "maintenance",
			Signed: h.roster.sign("alice", authz.Statement{Verb: authz.VerbDrillPause, Schedule: d.ScheduleID})})
	})
	sched.ok(t)
	pause.ok(t)
	require.Equal(t, "created", sched.res.Result)
	require.Equal(t, "alice", sched.res.By.Operator)
	require.NotEmpty(t, sched.res.By.Fingerprint)
	require.Equal(t, "paused", pause.res.Result)
	require.Len(t, h.calls, 2)
	require.NotNil(t, h.calls[0].Drill.Authorization, "runs carry the schedule statement")
	require.Equal(t, "alice", h.calls[0].By)
	require.Equal(t, "maintenance (alice)", h.calls[1].Note)
	require.Len(t, h.facts, 2)
	require.Equal(t, AuditDrillChanged, h.facts[0].Kind)
	require.Equal(t, d.ScheduleID, h.facts[0].IncidentID)
	require.Equal(t, "alice", h.facts[1].Actor)
	require.Equal(t, "drill.pause", h.facts[1].Attrs["verb"])
}

// The attempts a controller refuses before anything reaches history: each
// is refused by the validator with a reason naming the problem, and no
// schedule call is made.
func TestDrillControllerRefusals(t *testing.T) {
	type attempt struct {
		verb authz.Verb
		req  func(h *ctlHarness, d DrillInput) DrillChangeRequest
		want string
	}
	pause := func(who string, st authz.Statement) func(h *ctlHarness, d DrillInput) DrillChangeRequest {
		return func(h *ctlHarness, d DrillInput) DrillChangeRequest {
			if st.Verb == "" {
				st.Verb = authz.VerbDrillPause
			}
			if st.Schedule == "" {
				st.Schedule = d.ScheduleID
			}
			return DrillChangeRequest{Schedule: d.ScheduleID, Signed: h.roster.sign(who, st)}
		}
	}
	for name, a := range map[string]attempt{
		"non-member (no drill permission)": {authz.VerbDrillPause, pause("bob", authz.Statement{}), "no role of bob (responder) may change drills"},
		"not in the roster":                {authz.VerbDrillPause, pause("carol", authz.Statement{}), `"carol" is not in the roster`},
		"as someone else":                  {authz.VerbDrillPause, pause("bob", authz.Statement{Operator: "alice"}), "nobody acts under another's name"},
		"expired": {authz.VerbDrillPause, pause("alice", authz.Statement{IssuedAt: time.Now().Add(-time.Hour),
			Expires: time.Now().Add(-50 * time.Minute)}), "expired"},
		"other schedule":        {authz.VerbDrillPause, pause("alice", authz.Statement{Schedule: "drill:rotate-keys:bot-2"}), "the statement's schedule is"},
		"statement for another": {authz.VerbDrillDelete, pause("alice", authz.Statement{}), `for "drill.pause", not "drill.delete"`},
		"unsigned": {authz.VerbDrillTrigger, func(h *ctlHarness, d DrillInput) DrillChangeRequest {
			return DrillChangeRequest{Schedule: d.ScheduleID}
		}, "not signed"},
		"schedule of edited inputs": {authz.VerbDrillSchedule, func(h *ctlHarness, d DrillInput) DrillChangeRequest {
			sg := h.roster.sign("alice", scheduleStatement(d, time.Hour))
			d.Mode = DrillModeRehearse
			return DrillChangeRequest{Schedule: d.ScheduleID, Drill: &d, Spec: DrillSpec{Every: time.Hour}, Signed: sg}
		}, "the statement's inputs"},
		"schedule for another bot": {authz.VerbDrillSchedule, func(h *ctlHarness, d DrillInput) DrillChangeRequest {
			sg := h.roster.sign("alice", scheduleStatement(d, time.Hour))
			d.Bot = "bot-2"
			return DrillChangeRequest{Schedule: d.ScheduleID, Drill: &d, Spec: DrillSpec{Every: time.Hour}, Signed: sg}
		}, "runs runbook rotate-keys on bot bot-1"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newCtlHarness(t, 0)
			d := h.drill()
			var r *ctlResult
			h.run(func() { r = h.send(a.verb, a.req(h, d)) })
			r.refused(t, a.want)
			require.Empty(t, h.calls)
			require.Empty(t, h.facts)
		})
	}
}

// A statement is accepted once: sent again (replayed), it is refused.
func TestDrillControllerRefusesReplay(t *testing.T) {
	h := newCtlHarness(t, 0)
	d := h.drill()
	sg := h.roster.sign("alice", authz.Statement{Verb: authz.VerbDrillPause, Schedule: d.ScheduleID})
	var first, again *ctlResult
	h.run(func() { first = h.send(authz.VerbDrillPause, DrillChangeRequest{Schedule: d.ScheduleID, Signed: sg}) },
		func() { again = h.send(authz.VerbDrillPause, DrillChangeRequest{Schedule: d.ScheduleID, Signed: sg}) })
	first.ok(t)
	again.refused(t, "already used")
	require.Len(t, h.calls, 1)
}

// After maxUpdates changes the controller continues as new, carrying the
// nonces it accepted that have not expired.
func TestDrillControllerContinuesAsNew(t *testing.T) {
	h := newCtlHarness(t, 2)
	d := h.drill()
	var rs []*ctlResult
	for i := 0; i < 2; i++ {
		h.env.RegisterDelayedCallback(func() {
			rs = append(rs, h.send(authz.VerbDrillTrigger, DrillChangeRequest{Schedule: d.ScheduleID,
				Signed: h.roster.sign("alice", authz.Statement{Verb: authz.VerbDrillTrigger, Schedule: d.ScheduleID})}))
		}, time.Duration(i+1)*time.Second)
	}
	h.env.ExecuteWorkflow(DrillControllerWorkflowName, DrillControllerInput{})
	require.True(t, h.env.IsWorkflowCompleted())
	for _, r := range rs {
		r.ok(t)
	}
	var can *workflow.ContinueAsNewError
	err := h.env.GetWorkflowError()
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	var next DrillControllerInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Len(t, next.Nonces, 2, "unexpired nonces carry over")
}
