package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/runbooks"
)

func failing(kind string) actionFn {
	return func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		return runbooks.ActionResult{}, temporal.NewNonRetryableApplicationError("it broke", kind, nil)
	}
}

func TestOnFailureContinueGoesOn(t *testing.T) {
	h := newHarness(t)
	h.action("exchange.cancel_orders", failing("ExchangeUnavailable"))
	h.ok("exchange.revoke_key", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: cancel
    action: exchange.cancel_orders
    on_failure: continue
  - id: revoke
    action: exchange.revoke_key
    when: steps.cancel.status == "failed"
`))
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Equal(t, StatusFailed, step(t, st, "cancel").Status)
	assert.Equal(t, "ExchangeUnavailable: it broke", step(t, st, "cancel").Error)
	assert.Equal(t, StatusSucceeded, step(t, st, "revoke").Status, "later steps see the failure")
}

func TestOnFailureAbortIsDefault(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.action("exchange.cancel_orders", failing("ExchangeUnavailable"))
	h.ok("exchange.revoke_key", nil)
	h.ok("bot.unfreeze", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: freeze
    action: bot.freeze
    with: {bot: "${{ inputs.bot }}"}
  - id: cancel
    action: exchange.cancel_orders
  - id: revoke
    action: exchange.revoke_key
`))
	assert.Equal(t, StatusFailed, st.Status)
	assert.Equal(t, "step cancel failed: ExchangeUnavailable: it broke", st.Error)
	assert.Equal(t, StatusSucceeded, step(t, st, "freeze").Status, "abort does not compensate")
	assert.Nil(t, step(t, st, "freeze").Compensation)
	assert.Equal(t, StatusSkipped, step(t, st, "revoke").Status)
	assert.Equal(t, "not run: incident failed", step(t, st, "revoke").Summary)
	assert.Equal(t, []string{"bot.freeze", "exchange.cancel_orders"}, h.actionOrder())
}

func TestOnFailureCompensateUndoesInReverseOrder(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", map[string]any{"frozen": true})
	h.ok("exchange.create_key", map[string]any{"key_id": "AK-NEW", "api_secret": "never"})
	h.ok("core.log", nil) // no compensation: skipped during undo
	h.action("notify.sms", failing("InvalidParams"))
	h.ok("bot.unfreeze", map[string]any{"unfrozen": true})
	h.ok("exchange.delete_key", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: freeze
    action: bot.freeze
    with: {bot: "${{ inputs.bot }}", mode: stopentry}
  - id: create
    action: exchange.create_key
    with: {exchange: "${{ inputs.exchange }}", label: "${{ incident.id }}"}
    compensate:
      action: exchange.delete_key
      with:
        exchange: ${{ params.exchange }}
        key_id: ${{ outputs.key_id }}
        note: "undo ${{ params.label }} for ${{ inputs.bot }}"
  - id: log
    action: core.log
  - id: sms
    action: notify.sms
    on_failure: compensate
`))
	assert.Equal(t, StatusFailed, st.Status)
	assert.Contains(t, st.Error, "step sms failed: InvalidParams: it broke")

	// Reverse completion order: create's compensation, then freeze's.
	order := h.actionOrder()
	require.Equal(t, []string{"bot.freeze", "exchange.create_key", "core.log", "notify.sms", "exchange.delete_key", "bot.unfreeze"}, order)

	del := h.requests("exchange.delete_key")[0]
	assert.True(t, del.Compensation)
	assert.Equal(t, "create", del.StepID)
	assert.Equal(t, map[string]any{"exchange": "binance", "key_id": "AK-NEW", "note": "undo inc-bot1-contain for bot1"}, del.Params)
	unfreeze := h.requests("bot.unfreeze")[0]
	assert.True(t, unfreeze.Compensation)
	assert.Equal(t, map[string]any{"bot": "bot1"}, unfreeze.Params, "declared compensation renders params.bot")

	for _, id := range []string{"freeze", "create"} {
		s := step(t, st, id)
		assert.Equal(t, StatusCompensated, s.Status, id)
		require.NotNil(t, s.Compensation, id)
		assert.Equal(t, StatusSucceeded, s.Compensation.Status, id)
		assert.NotNil(t, s.Compensation.EndedAt, id)
	}
	assert.Equal(t, "exchange.delete_key", step(t, st, "create").Compensation.Action)
	assert.Equal(t, map[string]any{"unfrozen": true}, step(t, st, "freeze").Compensation.Outputs)
	assert.Equal(t, StatusSucceeded, step(t, st, "log").Status, "nothing to undo")
	assert.Nil(t, step(t, st, "log").Compensation)
	assert.Equal(t, StatusFailed, step(t, st, "sms").Status)
}

func TestFailedCompensationIsRecordedAndOthersStillRun(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.create_key", map[string]any{"key_id": "AK-NEW"})
	h.action("exchange.revoke_key", failing("AuthenticationError"))
	h.action("exchange.delete_key", failing("PermissionError"))
	h.ok("bot.unfreeze", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: freeze
    action: bot.freeze
    with: {bot: "${{ inputs.bot }}"}
  - id: create
    action: exchange.create_key
    compensate: {action: exchange.delete_key, with: {key_id: "${{ outputs.key_id }}"}}
  - id: revoke
    action: exchange.revoke_key
    on_failure: compensate
`))
	assert.Equal(t, StatusFailed, st.Status)
	assert.Contains(t, st.Error, "compensation of create: PermissionError: it broke")
	create := step(t, st, "create")
	assert.Equal(t, StatusSucceeded, create.Status, "a step whose undo failed is not compensated")
	assert.Equal(t, StatusFailed, create.Compensation.Status)
	assert.Equal(t, StatusCompensated, step(t, st, "freeze").Status)
	assert.Len(t, h.requests("bot.unfreeze"), 1)
}
