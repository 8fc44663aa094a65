package workflows

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// gateRunbook has one security gate, "unfreeze", with extra approval
// fields (", require: 2").
const gateRunbook = `
name: rb
steps:
  - id: freeze
    action: bot.freeze
  - id: unfreeze
    approval: {group: security, message: "unfreeze?"%s}
  - id: revoke
    action: exchange.revoke_key
`

func gateInput(t *testing.T, extra string) IncidentInput {
	return input(t, sprintf(gateRunbook, extra))
}

// decision is a signed approve (or deny) statement of operator as for the
// gate step of the running incident; mod changes it before signing.
func (h *harness) decision(verb authz.Verb, as, step string, mod func(*authz.Statement)) Decision {
	st := authz.Statement{Verb: verb, Operator: as, Incident: h.incident, Run: testRunID, Step: step}
	if verb == authz.VerbAbort {
		st.Step = ""
	}
	if mod != nil {
		mod(&st)
	}
	return Decision{Identity: as, Step: step, Signed: h.sign(as, st)}
}

func (h *harness) totp(as string) func(*authz.Statement) {
	code := h.totpCode(as, h.env.Now())
	return func(st *authz.Statement) { st.Factor = &authz.Factor{Kind: authz.FactorTOTP, Code: code} }
}

func okGateActions(h *harness) {
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
}

// Given a waiting gate, When alice (an approver of its group) approves with
// a signed statement, Then the gate records who, as verified: name, key
// fingerprint, roles and the policy that allowed it.
func TestAuthzApproveRecordsVerified(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	var approve *updateResult
	h.at("1m", func() {
		approve = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "unfreeze", func(st *authz.Statement) { st.Comment = "go" }))
	})
	st := h.run(gateInput(t, ""))
	approve.ok(t)
	require.Equal(t, StatusSucceeded, st.Status, st.Error)
	g := step(t, st, "unfreeze")
	assert.Equal(t, h.who("alice"), g.DecidedBy)
	assert.Equal(t, "go", g.Comment)
	require.Len(t, g.Approvals, 1)
	v := g.Approvals[0]
	assert.Equal(t, authz.VerbApprove, v.Verb)
	assert.Equal(t, "alice", v.Operator)
	assert.Equal(t, h.fp("alice"), v.Fingerprint)
	assert.Equal(t, []string{"security", authz.RoleResponder}, v.Roles)
	assert.Equal(t, h.live.Policy().Version(), v.Policy)
	require.NotNil(t, st.StartedByVerified)
	assert.Equal(t, authz.EngineName, st.StartedByVerified.Operator)
	assert.Empty(t, st.Refusals)
}

func TestAuthzDenyAndAbortRecordVerified(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	var deny *updateResult
	h.at("1m", func() { deny = h.update(UpdateDeny, h.decision(authz.VerbDeny, "bob", "unfreeze", nil)) })
	st := h.run(gateInput(t, ""))
	deny.ok(t)
	assert.Equal(t, StatusDenied, st.Status)
	assert.Equal(t, h.who("bob"), step(t, st, "unfreeze").DecidedBy)
	assert.Equal(t, "step unfreeze denied by bob", st.Error)
	require.Len(t, step(t, st, "unfreeze").Approvals, 1)
	assert.Equal(t, authz.VerbDeny, step(t, st, "unfreeze").Approvals[0].Verb)

	h = newHarness(t)
	okGateActions(h)
	var mallory, carol, abort *updateResult
	h.at("1m", func() {
		mallory = h.update(UpdateAbort, h.decision(authz.VerbAbort, "mallory", "", nil))
		carol = h.update(UpdateAbort, h.decision(authz.VerbAbort, "carol", "", nil))
		abort = h.update(UpdateAbort, h.decision(authz.VerbAbort, "erin", "", func(st *authz.Statement) { st.Comment = "wrong bot" }))
	})
	st = h.run(gateInput(t, ""))
	mallory.rejected(t, "abort refused for mallory: no role of mallory (auditor) may abort")
	carol.rejected(t, "abort refused for carol: no role of carol (oncall) may abort")
	abort.ok(t)
	assert.Equal(t, StatusAborted, st.Status)
	assert.Equal(t, "erin", st.AbortedBy)
	assert.Equal(t, "aborted by erin: wrong bot", st.Error)
	require.NotNil(t, st.AbortedByVerified)
	assert.Equal(t, h.fp("erin"), st.AbortedByVerified.Fingerprint)
	assert.Equal(t, authz.VerbAbort, st.AbortedByVerified.Verb)
}

// The attempts an outsider would try, each refused before it reaches
// history with a reason that names the problem; then an authorized
// approval still decides the gate.
func TestAuthzRefusesForgedAndMisboundDecisions(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	outsider, err := operatorkey.Generate(filepath.Join(t.TempDir(), "outsider"), "outsider")
	require.NoError(t, err)
	type attempt struct {
		name, update, want string
		d                  func() Decision
		res                *updateResult
	}
	approve := func(as string, mod func(*authz.Statement)) func() Decision {
		return func() Decision { return h.decision(authz.VerbApprove, as, "unfreeze", mod) }
	}
	byOutsider := func(claim string) func() Decision {
		return func() Decision {
			sg, err := operatorkey.Sign(outsider, authz.Statement{Verb: authz.VerbApprove, Operator: claim, Incident: h.incident,
				Run: testRunID, Step: "unfreeze", IssuedAt: h.env.Now(), Expires: h.env.Now().Add(time.Minute)})
			require.NoError(t, err)
			return Decision{Identity: claim, Signed: &sg}
		}
	}
	attempts := []*attempt{
		{name: "unsigned", update: UpdateApprove, want: "approve refused: not signed: every approve needs a statement signed with an operator's key",
			d: func() Decision { return Decision{Identity: "alice", Step: "unfreeze"} }},
		{name: "non-member", update: UpdateApprove, want: `approve refused for mallory: mallory is not an approver of group "security" (roles: auditor)`,
			d: approve("mallory", nil)},
		{name: "deny by non-member", update: UpdateDeny, want: `deny refused for carol: carol is not an approver of group "security" (roles: oncall)`,
			d: func() Decision { return h.decision(authz.VerbDeny, "carol", "unfreeze", nil) }},
		{name: "key not in roster", update: UpdateApprove, want: `approve refused for zed: "zed" is not in the roster (key ` + authz.Fingerprint(outsider.PublicKey()),
			d: byOutsider("zed")},
		{name: "unknown key claiming bob", update: UpdateApprove, want: "approve refused for bob: key " + authz.Fingerprint(outsider.PublicKey()) + " is not one of bob's keys in the roster",
			d: byOutsider("bob")},
		{name: "alice's key claiming bob", update: UpdateApprove,
			want: "approve refused for bob: signed with alice's key " + h.fp("alice") + ", not bob's: nobody acts under another's name",
			d: func() Decision {
				d := approve("alice", func(st *authz.Statement) { st.Operator = "bob" })()
				d.Identity = "bob"
				return d
			}},
		{name: "identity is not the signer", update: UpdateApprove, want: `approve refused for alice: the decision names "bob" but is signed by alice`,
			d: func() Decision { d := approve("alice", nil)(); d.Identity = "bob"; return d }},
		{name: "expired", update: UpdateApprove, want: "approve refused for alice: expired at",
			d: approve("alice", func(st *authz.Statement) {
				st.IssuedAt, st.Expires = h.env.Now().Add(-10*time.Minute), h.env.Now().Add(-5*time.Minute)
			})},
		{name: "valid too long", update: UpdateApprove, want: "approve refused for alice: valid for 1h0m0s, longer than the 10m0s allowed",
			d: approve("alice", func(st *authz.Statement) { st.IssuedAt = h.env.Now(); st.Expires = h.env.Now().Add(60 * time.Minute) })},
		{name: "other incident", update: UpdateApprove, want: `approve refused for alice: the statement's incident is "inc-other", this is "inc-bot1-contain"`,
			d: approve("alice", func(st *authz.Statement) { st.Incident = "inc-other" })},
		{name: "other run", update: UpdateApprove, want: `approve refused for alice: the statement's run is "run-1", this is "` + testRunID + `"`,
			d: approve("alice", func(st *authz.Statement) { st.Run = "run-1" })},
		{name: "other step", update: UpdateApprove, want: `approve refused for alice: the statement's step is "revoke", this is "unfreeze"`,
			d: approve("alice", func(st *authz.Statement) { st.Step = "revoke" })},
		{name: "deny statement sent as approve", update: UpdateApprove, want: `approve refused for alice: the statement is for "deny", not "approve"`,
			d: approve("alice", func(st *authz.Statement) { st.Verb = authz.VerbDeny })},
	}
	var good *updateResult
	h.at("1m", func() {
		for _, a := range attempts {
			a.res = h.updateRaw(a.update, a.d())
		}
	})
	h.at("2m", func() { good = h.update(UpdateApprove, h.decision(authz.VerbApprove, "bob", "unfreeze", nil)) })
	st := h.run(gateInput(t, ""))
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) { a.res.rejected(t, a.want) })
	}
	good.ok(t)
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Equal(t, h.who("bob"), step(t, st, "unfreeze").DecidedBy)
	assert.Len(t, step(t, st, "unfreeze").Approvals, 1, "refused attempts leave no approval")
}

// require: 2 needs two different people; the same statement sent twice is
// refused by its nonce, a second approval by the same person by name.
func TestAuthzRequireTwoDistinctApprovers(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	var first, replayed, again, second *updateResult
	var mid IncidentState
	var d1 Decision
	h.at("1m", func() {
		d1 = h.decision(authz.VerbApprove, "alice", "unfreeze", nil)
		first = h.update(UpdateApprove, d1)
	})
	h.at("2m", func() {
		mid = h.query()
		replayed = h.update(UpdateApprove, d1)
		again = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "unfreeze", nil))
	})
	h.at("3m", func() { second = h.update(UpdateApprove, h.decision(authz.VerbApprove, "bob", "unfreeze", nil)) })
	st := h.run(gateInput(t, ", require: 2"))
	first.ok(t)
	replayed.rejected(t, "approve refused for alice: this signed statement (nonce "+mustNonce(t, d1)+") was already used in this run: sign a new one")
	again.rejected(t, "approve refused for alice: alice already approved gate unfreeze; it requires 2 different approvers")
	second.ok(t)

	assert.Equal(t, StatusWaiting, step(t, mid, "unfreeze").Status, "one approval of two: still waiting")
	assert.Len(t, step(t, mid, "unfreeze").Approvals, 1)
	assert.Equal(t, StatusSucceeded, st.Status)
	g := step(t, st, "unfreeze")
	assert.Equal(t, h.who("alice")+", "+h.who("bob"), g.DecidedBy)
	require.Len(t, g.Approvals, 2)
	assert.Equal(t, "alice", g.Approvals[0].Operator)
	assert.Equal(t, "bob", g.Approvals[1].Operator)
	assert.Len(t, h.requests("exchange.revoke_key"), 1)
}

func TestAuthzRequireTwoOneDenyDenies(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	h.at("1m", func() { h.mustOK(h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "unfreeze", nil))) })
	var deny *updateResult
	h.at("2m", func() { deny = h.update(UpdateDeny, h.decision(authz.VerbDeny, "bob", "unfreeze", nil)) })
	st := h.run(gateInput(t, ", require: 2"))
	deny.ok(t)
	assert.Equal(t, StatusDenied, st.Status)
	g := step(t, st, "unfreeze")
	assert.Equal(t, h.who("bob"), g.DecidedBy)
	assert.Len(t, g.Approvals, 2)
	assert.Empty(t, h.requests("exchange.revoke_key"))
}

func mustNonce(t *testing.T, d Decision) string {
	st, err := d.Signed.Decode()
	require.NoError(t, err)
	return st.Nonce
}

const twoTOTPGates = `
name: rb
steps:
  - id: one
    approval: {group: security, second_factor: totp}
  - id: two
    approval: {group: security, second_factor: totp}
  - id: freeze
    action: bot.freeze
`

// A TOTP gate needs the operator's current code; a code is good once.
// With authz.Live the worker remembers it (Consume), so the message is
// Live's; the run's own rule is tested below with a plain policy.
func TestAuthzTOTP(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	var none, wrong, right, reused, bob *updateResult
	h.at("1m", func() {
		none = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "one", nil))
		code := h.totpCode("alice", h.env.Now())
		bad := code[:5] + string('0'+(code[5]-'0'+1)%10)
		wrong = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "one", func(st *authz.Statement) {
			st.Factor = &authz.Factor{Kind: authz.FactorTOTP, Code: bad}
		}))
		right = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "one", h.totp("alice")))
	})
	h.at("65s", func() {
		reused = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "two", func(st *authz.Statement) {
			st.Factor = &authz.Factor{Kind: authz.FactorTOTP, Code: h.totpCode("alice", h.env.Now().Add(-5*time.Second))}
		}))
	})
	h.at("70s", func() { bob = h.update(UpdateApprove, h.decision(authz.VerbApprove, "bob", "two", h.totp("bob"))) })
	st := h.run(input(t, twoTOTPGates))
	none.rejected(t, "approve refused for alice: gate one needs a second factor (totp): none given")
	wrong.rejected(t, "approve refused for alice: wrong or expired TOTP code")
	right.ok(t)
	reused.rejected(t, "approve refused for alice: this TOTP code (or a later one) was already used")
	bob.ok(t)
	assert.Equal(t, StatusSucceeded, st.Status)
	one := step(t, st, "one")
	assert.Equal(t, "alice ("+h.fp("alice")+", totp)", one.DecidedBy)
	require.Len(t, one.Approvals, 1)
	assert.Equal(t, authz.FactorTOTP, one.Approvals[0].Factor)
	assert.NotZero(t, one.Approvals[0].FactorStep)
}

// compiledOnly is the roster's policy without authz.Live's memory of used
// TOTP steps: the run must refuse a reused code itself.
type compiledOnly struct{ r *roster }

func (c compiledOnly) Authorize(req authz.Request) (authz.Verified, error) {
	return c.r.live.Policy().Authorize(req, c.r.secrets)
}

func TestAuthzTOTPSingleUseInTheRun(t *testing.T) {
	h := newHarnessWith(t, func(r *roster) authz.Authorizer { return compiledOnly{r} })
	h.ok("bot.freeze", nil)
	var reused, bob *updateResult
	h.at("1m", func() {
		h.mustOK(h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "one", h.totp("alice"))))
	})
	h.at("65s", func() {
		reused = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "two", func(st *authz.Statement) {
			st.Factor = &authz.Factor{Kind: authz.FactorTOTP, Code: h.totpCode("alice", h.env.Now().Add(-5*time.Second))}
		}))
	})
	h.at("70s", func() { bob = h.update(UpdateApprove, h.decision(authz.VerbApprove, "bob", "two", h.totp("bob"))) })
	st := h.run(input(t, twoTOTPGates))
	reused.rejected(t, "approve refused for alice: this TOTP code (or a later one) was already used in this run: wait for the next code")
	bob.ok(t)
	assert.Equal(t, StatusSucceeded, st.Status)
}

// An SMS gate texts its approvers (AskApproversActivity) and checks the
// code bound to person, incident, run, gate and the time it texted.
func TestAuthzSMSCode(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	var wrong, bobWithAlices, right *updateResult
	var ask AskApproversRequest
	h.at("1m", func() {
		h.mu.Lock()
		require.Len(t, h.asks, 1)
		ask = h.asks[0]
		h.mu.Unlock()
		code := authz.SMSFactorCode(h.secrets.smsKey, "alice", h.incident, testRunID, "unfreeze", ask.IssuedAt)
		sms := func(c string) func(*authz.Statement) {
			return func(st *authz.Statement) { st.Factor = &authz.Factor{Kind: authz.FactorSMS, Code: c} }
		}
		wrong = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "unfreeze", sms("ZZZZZZ")))
		bobWithAlices = h.update(UpdateApprove, h.decision(authz.VerbApprove, "bob", "unfreeze", sms(code)))
		right = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "unfreeze", sms(strings.ToLower(code))))
	})
	st := h.run(gateInput(t, ", second_factor: sms"))
	wrong.rejected(t, "approve refused for alice: wrong SMS code (codes are per person, gate and run)")
	bobWithAlices.rejected(t, "approve refused for bob: wrong SMS code")
	right.ok(t)
	assert.Equal(t, StatusSucceeded, st.Status)
	g := step(t, st, "unfreeze")
	assert.Equal(t, "alice ("+h.fp("alice")+", sms)", g.DecidedBy)
	assert.Equal(t, AskApproversRequest{Incident: "inc-bot1-contain", Run: testRunID, Gate: "unfreeze", Group: "security",
		Message: "unfreeze?", SecondFactor: "sms", IssuedAt: *g.StartedAt}, ask)
}

func TestAuthzSMSCodeExpires(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	var late *updateResult
	h.at("16m", func() {
		h.mu.Lock()
		issued := h.asks[0].IssuedAt
		h.mu.Unlock()
		code := authz.SMSFactorCode(h.secrets.smsKey, "alice", h.incident, testRunID, "unfreeze", issued)
		late = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "unfreeze", func(st *authz.Statement) {
			st.Factor = &authz.Factor{Kind: authz.FactorSMS, Code: code}
		}))
	})
	h.at("17m", func() { h.mustOK(h.update(UpdateDeny, h.decision(authz.VerbDeny, "bob", "unfreeze", nil))) })
	st := h.run(gateInput(t, ", second_factor: sms"))
	late.rejected(t, "approve refused for alice: the SMS code expired at")
	assert.Equal(t, StatusDenied, st.Status)
}

// Given a start with no signed statement, Then the incident fails closed:
// no action runs, nobody is texted, every step says why it did not run, and
// the refusal is in the state and the audit trail.
func TestAuthzUnsignedStartFailsClosed(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	l := h.auditing(nil)
	h.unsignedStart = true
	st := h.run(audited(gateInput(t, "")))
	assert.Equal(t, StatusFailed, st.Status)
	assert.True(t, strings.HasPrefix(st.Error, "start refused: not signed: every exec needs a statement signed"), st.Error)
	for _, s := range st.Steps {
		assert.Equal(t, StatusSkipped, s.Status, s.ID)
		assert.Equal(t, "not run: "+st.Error, s.Summary, s.ID)
	}
	assert.Empty(t, h.actionOrder())
	assert.Empty(t, h.asks)
	assert.Nil(t, st.StartedByVerified)
	require.Len(t, st.Refusals, 1)
	assert.Equal(t, authz.VerbExec, st.Refusals[0].Verb)
	var refused []AuditFact
	for _, f := range l.facts {
		if f.Kind == AuditAuthzRefused {
			refused = append(refused, f)
		}
	}
	require.Len(t, refused, 1)
	assert.Equal(t, "authz/refused/start", refused[0].Key)
	assert.Equal(t, "exec", refused[0].Attrs["verb"])
	assert.Contains(t, refused[0].Attrs["reason"], "not signed")
}

// An ad-hoc runbook (not registered with the engine) needs adhoc: a
// responder's start is refused, an admin's runs and is recorded ad hoc. A
// statement for other inputs does not start this incident.
func TestAuthzAdhocAndTamperedStarts(t *testing.T) {
	manual := func(h *harness) IncidentInput {
		in := gateInput(t, "")
		in.Trigger = "manual"
		return in
	}
	h := newHarness(t)
	okGateActions(h)
	h.adhoc = true
	st := h.run(manual(h)) // signed by dave, a responder
	assert.Equal(t, StatusFailed, st.Status)
	assert.Equal(t, "start refused: runbook rb (sha256:test) is not registered with the engine: running an ad-hoc file needs the adhoc permission", st.Error)
	assert.Empty(t, h.actionOrder())

	h = newHarness(t)
	okGateActions(h)
	h.adhoc = true
	in := manual(h)
	in.Authorization = h.startStatementAs("root", in, h.env.Now())
	h.at("1m", func() { h.mustOK(h.update(UpdateApprove, Decision{Identity: "alice"})) })
	st = h.run(in)
	assert.Equal(t, StatusSucceeded, st.Status, st.Error)
	require.NotNil(t, st.StartedByVerified)
	assert.Equal(t, "root", st.StartedByVerified.Operator)
	assert.True(t, st.StartedByVerified.Adhoc)

	h = newHarness(t)
	okGateActions(h)
	in = manual(h)
	signedFor := in
	signedFor.Inputs = map[string]any{"bot": "bot2", "exchange": "binance"}
	in.Authorization = h.startStatement(signedFor, h.env.Now())
	st = h.run(in)
	assert.Equal(t, StatusFailed, st.Status)
	assert.Contains(t, st.Error, "start refused: the statement's inputs is")
	assert.Empty(t, h.actionOrder())

	h = newHarness(t)
	okGateActions(h)
	in = gateInput(t, "") // trigger event: an operator may not sign it
	in.Authorization = h.startStatementAs("root", in, h.env.Now())
	st = h.run(in)
	assert.Equal(t, `start refused: operators start incidents by hand (trigger manual), not "event"`, st.Error)
}

// A decision accepted by the validator but refused by the handler's
// recorded re-check (alice left the roster in between: a reload) is
// refused, kept in the state and audited; the gate still waits.
func TestAuthzHandlerRecheckRefusal(t *testing.T) {
	var reloaded bool
	h := newHarnessWith(t, func(r *roster) authz.Authorizer {
		return authzFunc(func(req authz.Request) (authz.Verified, error) {
			v, err := r.live.Authorize(req)
			if req.Verb == authz.VerbApprove && !reloaded {
				reloaded = true
				r.remove("alice")
			}
			return v, err
		})
	})
	okGateActions(h)
	l := h.auditing(nil)
	var approve, bob *updateResult
	h.at("1m", func() { approve = h.update(UpdateApprove, h.decision(authz.VerbApprove, "alice", "unfreeze", nil)) })
	h.at("2m", func() { bob = h.update(UpdateApprove, h.decision(authz.VerbApprove, "bob", "unfreeze", nil)) })
	st := h.run(audited(gateInput(t, "")))
	require.True(t, approve.done)
	assert.True(t, approve.accepted, "the validator accepted it")
	require.Error(t, approve.err)
	assert.Contains(t, approve.err.Error(), `approve refused for alice: "alice" is not in the roster`)
	bob.ok(t)
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Equal(t, h.who("bob"), step(t, st, "unfreeze").DecidedBy)
	require.Len(t, st.Refusals, 1)
	assert.Equal(t, "alice", st.Refusals[0].Operator)
	var keys []string
	for _, f := range l.facts {
		if f.Kind == AuditAuthzRefused {
			keys = append(keys, f.Key+"@"+f.Step)
		}
	}
	assert.Equal(t, []string{"authz/refused/approve/1@unfreeze"}, keys)
}

type authzFunc func(authz.Request) (authz.Verified, error)

func (f authzFunc) Authorize(req authz.Request) (authz.Verified, error) { return f(req) }

// A held incident still pages: an action whose spec sets Pages is never
// held, and the hold gate asks on-call with Held naming the held step.
func TestAuthzHoldNeverHoldsPages(t *testing.T) {
	h := newHarness(t)
	h.ok("exchange.revoke_key", nil)
	h.ok("notify.sms", nil)
	in := input(t, `
name: rb
steps:
  - id: revoke
    action: exchange.revoke_key
  - id: page
    action: notify.sms
`)
	in.Actions["notify.sms"] = runbooks.ActionMeta{SideEffect: runbooks.Irreversible, Pages: true}
	in.HoldIrreversible, in.HoldIrreversibleReason = true, "blast radius exceeded"
	h.at("1m", func() { h.mustOK(h.update(UpdateApprove, Decision{Step: "revoke", Identity: "carol"})) })
	st := h.run(in)
	assert.Equal(t, StatusSucceeded, st.Status, st.Error)
	assert.Equal(t, []string{"revoke.hold=succeeded", "revoke=succeeded", "page=succeeded"}, stepIDs(st))
	require.Len(t, h.asks, 1)
	ask := h.asks[0]
	assert.Equal(t, "revoke.hold", ask.Gate)
	assert.Equal(t, "revoke", ask.Held)
	assert.Equal(t, HoldGroup, ask.Group)
	assert.Contains(t, ask.Message, "blast radius exceeded")
}

// Asking the approvers may fail: the gate notes it and still waits for,
// and takes, its decision.
func TestAuthzAskApproversFailureIsOnlyNoted(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	h.askErr = temporal.NewApplicationError("twilio unreachable", "NetworkError")
	h.at("1m", func() { h.mustOK(h.update(UpdateApprove, Decision{Identity: "alice"})) })
	st := h.run(gateInput(t, ""))
	assert.Equal(t, StatusSucceeded, st.Status)
	g := step(t, st, "unfreeze")
	assert.Equal(t, "unfreeze? — approvers were not texted: NetworkError: twilio unreachable", g.Summary)
	assert.Len(t, h.asks, 3, "retried a few times")
	assert.Equal(t, StatusSucceeded, step(t, st, "revoke").Status)
}

// Incidents recorded before authorization (workflow version default) keep
// the earlier rules: claimed identities and the input's Approvers list, no
// start check, no texts, pages held like any irreversible step.
func TestBeforeAuthzVersionKeepsClaimedIdentities(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	h.env.OnGetVersion(authzVersion, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.unsignedStart = true
	var unsigned, claimed, alice *updateResult
	h.at("1m", func() {
		unsigned = h.updateRaw(UpdateApprove, Decision{Identity: "alice"})
		signed := h.sign("alice", authz.Statement{Verb: authz.VerbApprove, Incident: h.incident, Run: testRunID, Step: "unfreeze"})
		claimed = h.updateRaw(UpdateApprove, Decision{Identity: "bob", Signed: signed})
		alice = h.updateRaw(UpdateApprove, Decision{Identity: "alice", Signed: signed})
	})
	st := h.run(gateInput(t, ""))
	// In flight at the upgrade: still no unsigned decision, nor one naming
	// someone other than its signer; the record keeps its old shape.
	unsigned.rejected(t, "not signed")
	claimed.rejected(t, `the decision names "bob" but alice signed it`)
	alice.ok(t)
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Equal(t, "alice", step(t, st, "unfreeze").DecidedBy)
	assert.Empty(t, step(t, st, "unfreeze").Approvals)
	assert.Nil(t, st.StartedByVerified)
	assert.Empty(t, h.asks)
}

// An SMS reply is relayed by the engine: its statement, signed with the
// engine's key on behalf of the operator whose roster phone answered,
// carries the reply's code. It decides as that operator, via the engine.
func TestAuthzSMSReplyRelayedByEngine(t *testing.T) {
	h := newHarness(t)
	okGateActions(h)
	var relayed, forged *updateResult
	h.at("1m", func() {
		h.mu.Lock()
		issued := h.asks[0].IssuedAt
		h.mu.Unlock()
		code := authz.SMSFactorCode(h.secrets.smsKey, "alice", h.incident, testRunID, "unfreeze", issued)
		reply := func(as string) Decision {
			return Decision{Identity: "alice", Step: "unfreeze", Signed: h.sign(as, authz.Statement{Verb: authz.VerbApprove,
				Operator: as, OnBehalfOf: "alice", Incident: h.incident, Run: testRunID, Step: "unfreeze",
				Factor: &authz.Factor{Kind: authz.FactorSMSReply, Code: code}})}
		}
		forged = h.updateRaw(UpdateApprove, reply("bob")) // an operator may not relay
		relayed = h.updateRaw(UpdateApprove, reply(authz.EngineName))
	})
	st := h.run(gateInput(t, ", second_factor: sms"))
	forged.rejected(t, "approve refused for bob: only the engine relays decisions on behalf of others")
	relayed.ok(t)
	g := step(t, st, "unfreeze")
	assert.Equal(t, "alice ("+h.fp(authz.EngineName)+", sms-reply, via engine)", g.DecidedBy)
	require.Len(t, g.Approvals, 1)
	assert.Equal(t, "alice", g.Approvals[0].Operator)
	assert.Equal(t, authz.EngineName, g.Approvals[0].Via)
}

// A runbook's hold rule applies to its blast-radius holds: the shipped
// fleet runbook's per-bot starts past the cap need two different operators
// of group oncall, each with a TOTP code.
func TestAuthzHoldFollowsTheRunbooksHoldRule(t *testing.T) {
	h := newHarness(t)
	h.ok("exchange.revoke_key", nil)
	in := input(t, `
name: rb
hold: {require: 2, second_factor: totp}
steps:
  - id: revoke
    action: exchange.revoke_key
`)
	in.HoldIrreversible, in.HoldIrreversibleReason = true, "blast radius exceeded"
	var bare, first, again, second *updateResult
	h.at("1m", func() {
		bare = h.update(UpdateApprove, h.decision(authz.VerbApprove, "carol", "revoke.hold", nil))
		first = h.update(UpdateApprove, h.decision(authz.VerbApprove, "carol", "revoke.hold", h.totp("carol")))
	})
	h.at("2m", func() {
		again = h.update(UpdateApprove, h.decision(authz.VerbApprove, "carol", "revoke.hold", h.totp("carol")))
		second = h.update(UpdateApprove, h.decision(authz.VerbApprove, "root", "revoke.hold", h.totp("root")))
	})
	st := h.run(in)
	bare.rejected(t, "needs a second factor (totp): none given")
	first.ok(t)
	again.rejected(t, "carol already approved gate revoke.hold; it requires 2 different approvers")
	second.ok(t)
	assert.Equal(t, StatusSucceeded, st.Status, st.Error)
	hold := step(t, st, "revoke.hold")
	require.Len(t, hold.Approvals, 2)
	assert.Equal(t, []string{"carol", "root"}, []string{hold.Approvals[0].Operator, hold.Approvals[1].Operator})
	assert.Equal(t, StatusSucceeded, step(t, st, "revoke").Status)
}
