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

// signEngineStart is what the worker's drill.sign_start activity does.
func (r *roster) signEngineStart(req DrillSignStartRequest) (authz.Signed, error) {
	now := r.now()
	st := req.Statement()
	st.IssuedAt, st.Expires = now, now.Add(5*time.Minute)
	return operatorkey.Sign(r.signers[authz.EngineName], st)
}

// signSchedule is the drill.schedule statement `drill schedule` signs for
// in, valid for valid.
func (r *roster) signSchedule(as string, in DrillInput, valid time.Duration) *authz.Signed {
	now := r.now()
	st := DrillScheduleStatement(in)
	st.IssuedAt, st.Expires = now, now.Add(valid)
	return r.sign(as, st)
}

// outsider gives the roster's signers a key for name that the policy does
// not list.
func (r *roster) outsider(name string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(r.t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(r.t, err)
	r.signers[name] = s
}

// ctlHarness runs the drill controller with a fake schedule API.
type ctlHarness struct {
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	roster *roster
	mu     sync.Mutex
	calls  []DrillScheduleCall
	facts  []AuditFact
	n      int
}

func newCtlHarness(t *testing.T, maxUpdates int) *ctlHarness {
	var s testsuite.WorkflowTestSuite
	h := &ctlHarness{t: t, env: s.NewTestWorkflowEnvironment(), roster: newRoster(t)}
	h.roster.clock = h.env.Now
	h.roster.outsider("zoe")
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
	h.roster.register(child.Runbook.Name, StartStatement(child).Definition)
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

// Given root (admin) signs drill.schedule and then drill.pause,
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
			Signed: h.roster.signSchedule("root", d, 30*24*time.Hour)})
	}, func() {
		pause = h.send(authz.VerbDrillPause, DrillChangeRequest{Schedule: d.ScheduleID, Note: "maintenance",
			Signed: h.roster.sign("root", authz.Statement{Verb: authz.VerbDrillPause, Schedule: d.ScheduleID})})
	})
	sched.ok(t)
	pause.ok(t)
	require.Equal(t, "created", sched.res.Result)
	require.Equal(t, "root", sched.res.By.Operator)
	require.NotEmpty(t, sched.res.By.Fingerprint)
	require.Equal(t, "paused", pause.res.Result)
	require.Len(t, h.calls, 2)
	require.NotNil(t, h.calls[0].Drill.Authorization, "runs carry the schedule statement")
	require.Equal(t, "root", h.calls[0].By)
	require.Equal(t, "maintenance (root)", h.calls[1].Note)
	require.Len(t, h.facts, 2)
	require.Equal(t, AuditDrillChanged, h.facts[0].Kind)
	require.Equal(t, d.ScheduleID, h.facts[0].IncidentID)
	require.Equal(t, "root", h.facts[1].Actor)
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
		"non-member (no drill permission)": {authz.VerbDrillPause, pause("dave", authz.Statement{}), "no role of dave (responder) may change drills"},
		"not in the roster":                {authz.VerbDrillPause, pause("zoe", authz.Statement{}), `"zoe" is not in the roster`},
		"as someone else":                  {authz.VerbDrillPause, pause("dave", authz.Statement{Operator: "root"}), "nobody acts under another's name"},
		"expired": {authz.VerbDrillPause, pause("root", authz.Statement{IssuedAt: time.Now().Add(-time.Hour),
			Expires: time.Now().Add(-50 * time.Minute)}), "expired"},
		"other schedule":        {authz.VerbDrillPause, pause("root", authz.Statement{Schedule: "drill:rotate-keys:bot-2"}), "the statement's schedule is"},
		"statement for another": {authz.VerbDrillDelete, pause("root", authz.Statement{}), `for "drill.pause", not "drill.delete"`},
		"unsigned": {authz.VerbDrillTrigger, func(h *ctlHarness, d DrillInput) DrillChangeRequest {
			return DrillChangeRequest{Schedule: d.ScheduleID}
		}, "not signed"},
		"schedule of edited inputs": {authz.VerbDrillSchedule, func(h *ctlHarness, d DrillInput) DrillChangeRequest {
			sg := h.roster.signSchedule("root", d, time.Hour)
			d.Mode = DrillModeRehearse
			return DrillChangeRequest{Schedule: d.ScheduleID, Drill: &d, Spec: DrillSpec{Every: time.Hour}, Signed: sg}
		}, "the statement's inputs"},
		"schedule for another bot": {authz.VerbDrillSchedule, func(h *ctlHarness, d DrillInput) DrillChangeRequest {
			sg := h.roster.signSchedule("root", d, time.Hour)
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
	sg := h.roster.sign("root", authz.Statement{Verb: authz.VerbDrillPause, Schedule: d.ScheduleID})
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
				Signed: h.roster.sign("root", authz.Statement{Verb: authz.VerbDrillTrigger, Schedule: d.ScheduleID})}))
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
