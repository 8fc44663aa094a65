package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
)

func TestAbortWhileActivityRuns(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("bot.unfreeze", nil)
	h.ok("notify.sms", nil)
	h.blocking("exchange.revoke_key")
	var cancelled []string
	h.env.SetOnActivityCanceledListener(func(info *activity.Info) { cancelled = append(cancelled, info.ActivityType.Name) })

	var mid IncidentState
	var abort, again *updateResult
	h.at("1m", func() {
		mid = h.query()
		abort = h.update(UpdateAbort, Decision{Identity: "dave", Comment: "wrong bot"})
		again = h.update(UpdateAbort, Decision{Identity: "erin"})
	})
	st := h.run(input(t, `
name: rb
steps:
  - id: freeze
    action: bot.freeze
    with: {bot: "${{ inputs.bot }}"}
  - id: contain
    parallel:
      - id: revoke
        action: exchange.revoke_key
        timeout: 2h
        on_failure: compensate
      - id: gate
        approval: {group: security}
  - id: sms
    action: notify.sms
`))
	abort.ok(t)
	again.rejected(t, "already being aborted by dave")

	assert.Equal(t, StatusRunning, step(t, mid, "revoke").Status)
	assert.Equal(t, StatusWaiting, mid.Status, "a gate waits while revoke runs")

	assert.Equal(t, StatusAborted, st.Status)
	assert.Equal(t, "dave", st.AbortedBy)
	require.NotNil(t, st.AbortedByVerified)
	assert.Equal(t, "dave", st.AbortedByVerified.Operator)
	assert.Equal(t, "aborted by dave: wrong bot", st.Error)
	assert.Equal(t, []string{"exchange.revoke_key"}, cancelled, "the running activity is cancelled")
	assert.Equal(t, StatusSucceeded, step(t, st, "freeze").Status)
	for _, id := range []string{"contain", "revoke", "gate", "sms"} {
		assert.Equal(t, StatusAborted, step(t, st, id).Status, id)
	}
	assert.Nil(t, step(t, st, "freeze").Compensation, "no compensation on abort")
	assert.Empty(t, h.requests("bot.unfreeze"))
	assert.Empty(t, h.requests("notify.sms"))
	assert.NotNil(t, st.EndedAt)
}

func TestAbortDuringApprovalWait(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	var abort *updateResult
	h.at("5m", func() { abort = h.update(UpdateAbort, Decision{Identity: "dave"}) })
	st := h.run(approvalInput(t, "continue"))
	abort.ok(t)
	assert.Equal(t, StatusAborted, st.Status)
	assert.Equal(t, StatusAborted, step(t, st, "gate").Status)
	assert.Equal(t, StatusAborted, step(t, st, "revoke").Status)
	assert.Empty(t, h.requests("exchange.revoke_key"))
	assert.Equal(t, "aborted by dave", st.Error)
}

func TestWorkflowCancelEndsAborted(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	h.at("5m", func() { h.env.CancelWorkflow() })
	st := h.run(approvalInput(t, "continue"))
	assert.Equal(t, StatusAborted, st.Status)
	assert.Equal(t, "workflow cancelled", st.Error)
	assert.Empty(t, st.AbortedBy)
}
