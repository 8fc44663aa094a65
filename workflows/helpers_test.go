package workflows

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// harness runs IncidentWorkflow in the SDK's test environment with fake
// actions registered under their action names, and records every request
// the fakes receive.
type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu      sync.Mutex
	calls   []runbooks.ActionRequest
	updates int

	// Authorization: a real roster (testRoster) with keys made in
	// t.TempDir, checked by a real authz.Live.
	*roster
	incident string // of the running incident: what decisions are signed for
	asks     []AskApproversRequest
	mustOKs  []*updateResult
	askErr   error
	// unsignedStart and adhoc make run() leave the start unsigned, or the
	// runbook unregistered with the engine.
	unsignedStart, adhoc bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith registers the interpreter with authorizer(roster) instead
// of the roster's authz.Live.
func newHarnessWith(t *testing.T, authorizer func(*roster) authz.Authorizer) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	h := &harness{t: t, env: env, roster: newRoster(t)}
	h.clock = env.Now
	var a authz.Authorizer = h.live
	if authorizer != nil {
		a = authorizer(h.roster)
	}
	Register(env, a)
	env.RegisterActivityWithOptions(func(ctx context.Context, req AskApproversRequest) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.asks = append(h.asks, req)
		return h.askErr
	}, activity.RegisterOptions{Name: AskApproversActivity})
	return h
}

type actionFn func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error)

// action registers a fake action. Like activities.Registry it stamps the
// attempt number on results, and (as AttemptDetail) on errors.
func (h *harness) action(name string, fn actionFn) {
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		h.mu.Lock()
		h.calls = append(h.calls, req)
		h.mu.Unlock()
		attempt := activity.GetInfo(ctx).Attempt
		res, err := fn(ctx, req)
		res.Attempt = attempt
		return res, withAttempt(err, attempt)
	}, activity.RegisterOptions{Name: name})
}

// ok registers a fake that succeeds with fixed outputs.
func (h *harness) ok(name string, outputs map[string]any) {
	h.action(name, func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		return runbooks.ActionResult{Outputs: outputs, Summary: name + " done"}, nil
	})
}

// withAttempt re-creates an application error with an AttemptDetail, the
// way an activity wrapper can report which attempt failed.
func withAttempt(err error, attempt int32) error {
	var ae *temporal.ApplicationError
	if err == nil || !asApp(err, &ae) {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(ae.Message(), ae.Type(), temporal.ApplicationErrorOptions{
		NonRetryable: ae.NonRetryable(),
		Details:      []any{AttemptDetail{Attempt: attempt}},
	})
}

func asApp(err error, target **temporal.ApplicationError) bool {
	ae, ok := err.(*temporal.ApplicationError)
	if ok {
		*target = ae
	}
	return ok
}

// requests returns the recorded requests for one action (compensations
// included) in call order.
func (h *harness) requests(action string) []runbooks.ActionRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []runbooks.ActionRequest
	for _, c := range h.calls {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// actionOrder is the sequence of action names called.
func (h *harness) actionOrder() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.calls {
		out = append(out, c.Action)
	}
	return out
}

// run executes the workflow to completion and returns its result.
func (h *harness) run(in IncidentInput) IncidentState {
	h.t.Helper()
	h.incident = in.IncidentID
	if !h.adhoc {
		h.register(in.Runbook.Name, StartStatement(in).Definition)
	}
	if in.Authorization == nil && !h.unsignedStart {
		in.Authorization = h.startStatement(in, h.env.Now())
	}
	h.env.ExecuteWorkflow(IncidentWorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	require.NoError(h.t, h.env.GetWorkflowError())
	var st IncidentState
	require.NoError(h.t, h.env.GetWorkflowResult(&st))
	for _, r := range h.mustOKs {
		r.ok(h.t)
	}
	return st
}

// mustOK makes run() assert that the update was accepted and succeeded
// (its answer arrives after the callback that sent it).
func (h *harness) mustOK(r *updateResult) { h.mustOKs = append(h.mustOKs, r) }

// query reads the state query (call from a delayed callback).
func (h *harness) query() IncidentState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryState)
	require.NoError(h.t, err)
	var st IncidentState
	require.NoError(h.t, v.Get(&st))
	return st
}

// updateResult is filled in when the test environment answers an update
// (asynchronously, after the workflow has processed it).
type updateResult struct {
	done     bool
	accepted bool
	err      error
}

// update sends an update signed by d.Identity (when the roster has a key
// for that name and d carries no statement): the statement names the gate
// the decision is for — d.Step, or the one gate the state shows waiting —
// as `runbook approve` does after querying the state.
func (h *harness) update(name string, d Decision) *updateResult {
	if d.Signed == nil && h.signers[d.Identity] != nil {
		st := authz.Statement{Verb: authz.Verb(name), Operator: d.Identity, Incident: h.incident, Comment: d.Comment}
		if name != UpdateAbort {
			st.Run, st.Step = testRunID, h.gateFor(d.Step)
		} else {
			st.Run = testRunID
		}
		d.Signed = h.sign(d.Identity, st)
	}
	return h.updateRaw(name, d)
}

// gateFor is the id of the waiting gate a decision for step means.
func (h *harness) gateFor(step string) string {
	var waiting []string
	for _, s := range h.query().Steps {
		if s.Status == StatusWaiting {
			if s.ID == step || s.ID == step+holdSuffix {
				return s.ID
			}
			waiting = append(waiting, s.ID)
		}
	}
	if step == "" && len(waiting) == 1 {
		return waiting[0]
	}
	return step
}

// updateRaw sends d as it is.
func (h *harness) updateRaw(name string, d Decision) *updateResult {
	r := &updateResult{}
	h.updates++
	h.env.UpdateWorkflow(name, fmt.Sprintf("%s-%d", name, h.updates), &testsuite.TestUpdateCallback{
		OnAccept:   func() { r.accepted = true },
		OnReject:   func(err error) { r.err, r.done = err, true },
		OnComplete: func(_ any, err error) { r.err, r.done = err, true },
	}, d)
	return r
}

// ok asserts the update was accepted and completed without error.
func (r *updateResult) ok(t *testing.T) {
	t.Helper()
	require.True(t, r.done, "update got no answer")
	require.NoError(t, r.err)
	require.True(t, r.accepted)
}

// rejected asserts the update was refused with a message containing want.
func (r *updateResult) rejected(t *testing.T, want string) {
	t.Helper()
	require.True(t, r.done, "update got no answer")
	require.Error(t, r.err)
	require.False(t, r.accepted, "a rejected update must not be accepted (validator, not handler)")
	require.Contains(t, r.err.Error(), want)
}

// at schedules fn at the given workflow time.
func (h *harness) at(d string, fn func()) {
	dur, err := runbooks.ParseDuration(d)
	require.NoError(h.t, err)
	h.env.RegisterDelayedCallback(fn, dur.D())
}

func mustRunbook(t *testing.T, src string) runbooks.Runbook {
	t.Helper()
	var rb runbooks.Runbook
	require.NoError(t, yaml.Unmarshal([]byte(src), &rb))
	return rb
}

// input is a typical incident input around a runbook.
func input(t *testing.T, src string) IncidentInput {
	return IncidentInput{
		IncidentID:  "inc-bot1-contain",
		Runbook:     mustRunbook(t, src),
		RunbookHash: "sha256:test",
		Inputs:      map[string]any{"bot": "bot1", "exchange": "binance"},
		Event: map[string]any{
			"id":   "evt-1",
			"data": map[string]any{"key_id": "AK-LEAKED", "severity": "critical"},
		},
		Actions: map[string]runbooks.ActionMeta{
			"bot.freeze":             {SideEffect: runbooks.Reversible, Compensation: &runbooks.CompensationSpec{Action: "bot.unfreeze", With: map[string]any{"bot": "${{ params.bot }}"}}},
			"bot.unfreeze":           {SideEffect: runbooks.Reversible},
			"exchange.cancel_orders": {SideEffect: runbooks.Irreversible},
			"exchange.revoke_key":    {SideEffect: runbooks.Irreversible},
			"exchange.create_key":    {SideEffect: runbooks.Reversible},
			"exchange.delete_key":    {SideEffect: runbooks.Irreversible},
			"notify.sms":             {SideEffect: runbooks.Irreversible},
			"core.log":               {SideEffect: runbooks.ReadOnly},
		},
		Approvers: map[string][]string{"security": {"alice", "bob"}, "oncall": {"carol"}},
		Trigger:   "event",
		StartedBy: "breach.bot1.key_leaked",
	}
}

// step finds a step in a state by id.
func step(t *testing.T, st IncidentState, id string) StepState {
	t.Helper()
	for _, s := range st.Steps {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no step %q in state (steps: %v)", id, stepIDs(st))
	return StepState{}
}

func stepIDs(st IncidentState) []string {
	var ids []string
	for _, s := range st.Steps {
		ids = append(ids, s.ID+"="+string(s.Status))
	}
	return ids
}

func activityName(name string) activity.RegisterOptions { return activity.RegisterOptions{Name: name} }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// hang is an action that runs until its context is cancelled.
func hang(ctx context.Context, _ runbooks.ActionRequest) (runbooks.ActionResult, error) {
	<-ctx.Done()
	return runbooks.ActionResult{}, ctx.Err()
}

// blocking makes an action run for a day of workflow time (a testify mock
// that waits on the test clock), so updates can arrive while it runs.
// Register every other action first: the SDK forbids registering after a mock.
func (h *harness) blocking(name string) {
	h.env.RegisterActivityWithOptions(hang, activityName(name))
	h.env.OnActivity(name, mock.Anything, mock.Anything).After(24 * time.Hour).
		Return(func(_ context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
			h.mu.Lock()
			h.calls = append(h.calls, req)
			h.mu.Unlock()
			return runbooks.ActionResult{}, nil
		})
}

// testRunID is the run id of a workflow in the SDK's test environment.
const testRunID = "default-test-run-id"

// roster is a real operator roster for tests: keys generated with
// operatorkey in t.TempDir, TOTP secrets, an SMS code key, and the engine's
// key, compiled into an authz.Live the interpreter is registered with.
type roster struct {
	t       *testing.T
	live    *authz.Live
	policy  authz.Policy
	signers map[string]ssh.Signer // operator (or authz.EngineName) → key
	secrets testSecrets
	clock   func() time.Time // the test environment's clock
}

type testSecrets struct {
	totp   map[string][]byte
	smsKey []byte
}

func (s testSecrets) TOTPSecret(op string) ([]byte, bool) { b, ok := s.totp[op]; return b, ok }
func (s testSecrets) SMSCodeKey() []byte                  { return s.smsKey }

// testOperators: alice and bob approve security gates (alice may also
// start and abort), carol answers on-call holds, dave and erin respond,
// mallory only reads, root is an admin.
var testOperators = map[string][]string{
	"alice":   {"security", authz.RoleResponder},
	"bob":     {"security"},
	"carol":   {"oncall"},
	"dave":    {authz.RoleResponder},
	"erin":    {authz.RoleResponder},
	"mallory": {authz.RoleAuditor},
	"root":    {authz.RoleAdmin},
}

func newRoster(t *testing.T) *roster {
	t.Helper()
	dir := t.TempDir()
	r := &roster{t: t, live: &authz.Live{}, signers: map[string]ssh.Signer{},
		secrets: testSecrets{totp: map[string][]byte{}, smsKey: []byte("sms-code-key-for-tests-only-0123")}}
	r.policy = authz.Policy{
		Roles: map[string]authz.Role{
			"security": {Approve: []string{"security"}, Read: true},
			"oncall":   {Approve: []string{"oncall"}, Read: true},
		},
		Registered: map[string]string{},
	}
	names := make([]string, 0, len(testOperators))
	for n := range testOperators {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range append(names, authz.EngineName) {
		s, err := operatorkey.Generate(filepath.Join(dir, name), name+"@test")
		require.NoError(t, err)
		r.signers[name] = s
		line := operatorkey.AuthorizedKey(s.PublicKey(), name+"@test")
		if name == authz.EngineName {
			r.policy.EngineKeys = append(r.policy.EngineKeys, line)
			continue
		}
		r.policy.Operators = append(r.policy.Operators, authz.Operator{Name: name, Keys: []string{line}, Roles: testOperators[name]})
		r.secrets.totp[name] = []byte("totp-secret-" + name)
	}
	r.apply()
	return r
}

func (r *roster) apply() {
	c, err := authz.Compile(r.policy)
	require.NoError(r.t, err)
	r.live.Set(c, r.secrets)
}

// register makes a runbook known to the engine by content hash.
func (r *roster) register(name, hash string) {
	r.policy.Registered[hash] = name
	r.apply()
}

// remove takes an operator off the roster (a reload).
func (r *roster) remove(name string) {
	r.policy.Operators = slices.DeleteFunc(r.policy.Operators, func(o authz.Operator) bool { return o.Name == name })
	r.apply()
}

// sign signs st with operator as's key, issued now by the test clock
// unless st says when, valid five minutes unless st says otherwise.
func (r *roster) sign(as string, st authz.Statement) *authz.Signed {
	r.t.Helper()
	if st.Operator == "" {
		st.Operator = as
	}
	if st.IssuedAt.IsZero() {
		st.IssuedAt = r.now()
	}
	if st.Expires.IsZero() {
		st.Expires = st.IssuedAt.Add(5 * time.Minute)
	}
	sg, err := operatorkey.Sign(r.signers[as], st)
	require.NoError(r.t, err)
	return &sg
}

func (r *roster) now() time.Time {
	if r.clock != nil {
		return r.clock()
	}
	return time.Now()
}

// startStatement is the exec statement that allows in: the engine's for
// event, fleet and drill starts, dave's for a manual one.
func (r *roster) startStatement(in IncidentInput, at time.Time) *authz.Signed {
	as := authz.EngineName
	if in.Trigger == "manual" || in.Trigger == "" {
		as = "dave"
	}
	return r.startStatementAs(as, in, at)
}

func (r *roster) startStatementAs(as string, in IncidentInput, at time.Time) *authz.Signed {
	st := StartStatement(in)
	st.IssuedAt = at
	return r.sign(as, st)
}

// who is the verified one-line form of operator name (no second factor).
func (r *roster) who(name string) string {
	return name + " (" + authz.Fingerprint(r.signers[name].PublicKey()) + ")"
}

// fp is operator name's key fingerprint.
func (r *roster) fp(name string) string { return authz.Fingerprint(r.signers[name].PublicKey()) }

// totpCode is operator's current TOTP code at t.
func (r *roster) totpCode(op string, t time.Time) string {
	return authz.TOTPCode(r.secrets.totp[op], authz.TOTPCounter(t), authz.TOTPDigits)
}
