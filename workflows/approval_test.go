package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const approvalRunbook = `
name: rb
steps:
  - id: freeze
    action: bot.freeze
  - id: gate
    approval:
      group: security
      message: revoke the leaked key?
      timeout: 30m
      on_timeout: %s
  - id: revoke
    action: exchange.revoke_key
`

func approvalInput(t *testing.T, onTimeout string) IncidentInput {
	return input(t, sprintf(approvalRunbook, onTimeout))
}

func TestApprovalApproveRecordsIdentity(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	var mid IncidentState
	var approve *updateResult
	h.at("1m", func() {
		mid = h.query()
		approve = h.update(UpdateApprove, Decision{Identity: "alice", Comment: "go"})
	})
	st := h.run(approvalInput(t, "abort"))
	approve.ok(t)

	// The query mid-run shows the incident waiting at the gate.
	assert.Equal(t, StatusWaiting, mid.Status)
	assert.Equal(t, StatusSucceeded, step(t, mid, "freeze").Status)
	assert.Equal(t, StatusWaiting, step(t, mid, "gate").Status)
	assert.Equal(t, "revoke the leaked key?", step(t, mid, "gate").Summary)
	assert.Equal(t, StatusPending, step(t, mid, "revoke").Status)

	assert.Equal(t, StatusSucceeded, st.Status)
	gate := step(t, st, "gate")
	assert.Equal(t, StatusSucceeded, gate.Status)
	assert.Equal(t, h.who("alice"), gate.DecidedBy)
	assert.Equal(t, "go", gate.Comment)
	assert.Equal(t, StatusSucceeded, step(t, st, "revoke").Status)
}

func TestApprovalDenyEndsIncidentDenied(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	var deny *updateResult
	h.at("1m", func() {
		deny = h.update(UpdateDeny, Decision{Step: "gate", Identity: "bob", Comment: "false positive"})
	})
	st := h.run(approvalInput(t, "abort"))
	deny.ok(t)
	assert.Equal(t, StatusDenied, st.Status)
	assert.Equal(t, StatusDenied, step(t, st, "gate").Status)
	assert.Equal(t, h.who("bob"), step(t, st, "gate").DecidedBy)
	assert.Equal(t, "false positive", step(t, st, "gate").Comment)
	assert.Equal(t, "step gate denied by bob", st.Error)
	assert.Empty(t, h.requests("exchange.revoke_key"))
	assert.Equal(t, StatusSkipped, step(t, st, "revoke").Status)
}

func TestApprovalValidatorRejects(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	var notApprover, noIdentity, wrongStep, oncallMember, abortNoID, approve, late *updateResult
	h.at("1m", func() {
		notApprover = h.update(UpdateApprove, Decision{Identity: "mallory"})
		noIdentity = h.update(UpdateApprove, Decision{Identity: " "})
		wrongStep = h.update(UpdateApprove, Decision{Step: "revoke", Identity: "alice"})
		oncallMember = h.update(UpdateDeny, Decision{Identity: "carol"}) // listed for oncall, not security
		abortNoID = h.update(UpdateAbort, Decision{})
	})
	h.at("2m", func() {
		approve = h.update(UpdateApprove, Decision{Step: "gate", Identity: "bob"})
		late = h.update(UpdateDeny, Decision{Step: "gate", Identity: "alice"}) // the gate is already decided
	})
	st := h.run(approvalInput(t, "abort"))

	notApprover.rejected(t, `approve refused for mallory: mallory is not an approver of group "security" (roles: auditor)`)
	noIdentity.rejected(t, "approve refused: not signed")
	wrongStep.rejected(t, `step "revoke" is not waiting for approval (waiting: gate)`)
	oncallMember.rejected(t, `deny refused for carol: carol is not an approver of group "security"`)
	abortNoID.rejected(t, "abort refused: not signed")
	approve.ok(t)
	late.rejected(t, "no approval gate is waiting")

	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Equal(t, h.who("bob"), step(t, st, "gate").DecidedBy)
	// Rejected updates change nothing: the gate was decided once, by bob.
	assert.Equal(t, StatusSucceeded, step(t, st, "revoke").Status)
}

func TestApproveNamesTheWaitingGate(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	var early, first, second *updateResult
	h.at("1m", func() {
		early = h.update(UpdateApprove, Decision{Step: "gate", Identity: "alice"})
		first = h.update(UpdateApprove, Decision{Identity: "alice"})
	})
	h.at("2m", func() { second = h.update(UpdateApprove, Decision{Identity: "bob"}) })
	st := h.run(input(t, `
name: rb
steps:
  - id: wait
    approval: {group: security, timeout: 90s, on_timeout: abort}
  - id: gate
    approval: {group: security}
  - id: freeze
    action: bot.freeze
`))
	// At 1m only "wait" is waiting: "gate" is not yet, and an unnamed
	// approval goes to "wait". At 2m "gate" is the one waiting.
	early.rejected(t, `step "gate" is not waiting for approval (waiting: wait)`)
	first.ok(t)
	second.ok(t)
	assert.Equal(t, h.who("alice"), step(t, st, "wait").DecidedBy)
	assert.Equal(t, h.who("bob"), step(t, st, "gate").DecidedBy)
	assert.Equal(t, StatusSucceeded, st.Status)
}

func TestApproveWithNoGateWaitingIsRejected(t *testing.T) {
	h := newHarness(t)
	h.blocking("exchange.revoke_key")
	var approve, abort *updateResult
	h.at("1m", func() {
		approve = h.update(UpdateApprove, Decision{Identity: "alice"})
		abort = h.update(UpdateAbort, Decision{Identity: "alice"})
	})
	st := h.run(input(t, `
name: rb
steps:
  - id: revoke
    action: exchange.revoke_key
    timeout: 1h
`))
	approve.rejected(t, "no approval gate is waiting in incident inc-bot1-contain")
	abort.ok(t)
	assert.Equal(t, StatusAborted, st.Status)
}

func TestApprovalTimeout(t *testing.T) {
	for _, tc := range []struct {
		onTimeout  string
		incident   Status
		gate       Status
		revokeRuns bool
	}{
		{"abort", StatusFailed, StatusFailed, false},
		{"continue", StatusSucceeded, StatusSucceeded, true},
		{"skip", StatusSucceeded, StatusSkipped, true},
	} {
		t.Run(tc.onTimeout, func(t *testing.T) {
			h := newHarness(t)
			h.ok("bot.freeze", nil)
			h.ok("exchange.revoke_key", nil)
			st := h.run(approvalInput(t, tc.onTimeout))
			assert.Equal(t, tc.incident, st.Status)
			gate := step(t, st, "gate")
			assert.Equal(t, tc.gate, gate.Status)
			assert.Empty(t, gate.DecidedBy)
			assert.Equal(t, 30*60.0, gate.EndedAt.Sub(*gate.StartedAt).Seconds(), "the gate waited its timeout")
			assert.Equal(t, tc.revokeRuns, len(h.requests("exchange.revoke_key")) == 1)
			if tc.onTimeout == "abort" {
				assert.Contains(t, st.Error, "approval gate: no decision within 30m0s (on_timeout: abort)")
			} else {
				assert.Contains(t, gate.Summary, "on_timeout: "+tc.onTimeout)
			}
		})
	}
}

func TestHoldIrreversibleInsertsGates(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	h.ok("notify.sms", nil)
	in := input(t, `
name: rb
steps:
  - id: freeze
    action: bot.freeze
  - id: revoke
    action: exchange.revoke_key
  - id: sms
    action: notify.sms
`)
	in.HoldIrreversible = true
	in.HoldIrreversibleReason = "blast radius: 12 bots affected in 10m (limit 5)"
	var first, second IncidentState
	var notOncall, approve, deny *updateResult
	h.at("1m", func() {
		first = h.query()
		notOncall = h.update(UpdateApprove, Decision{Step: "revoke", Identity: "alice"})
		approve = h.update(UpdateApprove, Decision{Step: "revoke", Identity: "carol"})
	})
	h.at("2m", func() {
		second = h.query()
		deny = h.update(UpdateDeny, Decision{Identity: "carol", Comment: "we page by phone"})
	})
	st := h.run(in)
	notOncall.rejected(t, `approve refused for alice: alice is not an approver of group "oncall"`)
	approve.ok(t)
	deny.ok(t)

	// The reversible freeze ran without a gate; revoke waited behind one.
	assert.Equal(t, []string{"freeze=succeeded", "revoke.hold=waiting-approval", "revoke=pending", "sms=pending"}, stepIDs(first))
	assert.Equal(t, StatusWaiting, first.Status)
	hold := step(t, first, "revoke.hold")
	assert.Contains(t, hold.Summary, "blast radius: 12 bots affected in 10m (limit 5)")
	assert.Contains(t, hold.Summary, "exchange.revoke_key")

	assert.Equal(t, StatusSucceeded, step(t, second, "revoke").Status)
	assert.Equal(t, StatusWaiting, step(t, second, "sms.hold").Status)

	assert.Equal(t, StatusDenied, st.Status)
	assert.Equal(t, h.who("carol"), step(t, st, "revoke.hold").DecidedBy)
	assert.Equal(t, StatusDenied, step(t, st, "sms.hold").Status)
	assert.Equal(t, "we page by phone", step(t, st, "sms.hold").Comment)
	assert.Empty(t, h.requests("notify.sms"))
	assert.Equal(t, []string{"bot.freeze", "exchange.revoke_key"}, h.actionOrder())
	require.Equal(t, StatusSkipped, step(t, st, "sms").Status)
}

func TestHoldInsideParallelGroupNeedsNamedStep(t *testing.T) {
	h := newHarness(t)
	h.ok("exchange.revoke_key", nil)
	h.ok("exchange.cancel_orders", nil)
	h.ok("bot.freeze", nil)
	in := input(t, `
name: rb
steps:
  - id: contain
    parallel:
      - id: freeze
        action: bot.freeze
      - id: cancel
        action: exchange.cancel_orders
      - id: revoke
        action: exchange.revoke_key
`)
	in.HoldIrreversible = true
	var mid IncidentState
	var unnamed, cancel, revoke *updateResult
	h.at("1m", func() {
		mid = h.query()
		unnamed = h.update(UpdateApprove, Decision{Identity: "carol"})
		revoke = h.update(UpdateApprove, Decision{Step: "revoke.hold", Identity: "carol"})
		cancel = h.update(UpdateApprove, Decision{Step: "cancel", Identity: "carol"})
	})
	st := h.run(in)
	unnamed.rejected(t, "2 approval gates are waiting (cancel.hold, revoke.hold): name one with its step id")
	revoke.ok(t)
	cancel.ok(t)
	assert.Equal(t, StatusWaiting, step(t, mid, "cancel.hold").Status)
	assert.Equal(t, "contain", step(t, mid, "cancel.hold").Parent)
	assert.Equal(t, StatusSucceeded, step(t, mid, "freeze").Status, "the reversible sibling is not held")
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.ElementsMatch(t, []string{"bot.freeze", "exchange.cancel_orders", "exchange.revoke_key"}, h.actionOrder())
}
