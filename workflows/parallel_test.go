package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

const parallelRunbook = `
name: rb
steps:
  - id: contain
    parallel:
      - id: freeze
        action: bot.freeze
        with: {bot: "${{ inputs.bot }}"}
      - id: revoke
        action: exchange.revoke_key
        with: {key_id: "${{ event.data.key_id }}"}
      - id: skipped
        action: core.log
        when: "false"
  - id: sms
    action: notify.sms
    with: {body: "${{ steps.freeze.status }}/${{ steps.revoke.status }}"}
`

func TestParallelGroupRunsChildren(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", map[string]any{"frozen": true})
	h.ok("exchange.revoke_key", map[string]any{"revoked": true})
	h.ok("core.log", nil)
	h.ok("notify.sms", nil)
	st := h.run(input(t, parallelRunbook))

	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Equal(t, StatusSucceeded, step(t, st, "contain").Status)
	for _, id := range []string{"freeze", "revoke"} {
		s := step(t, st, id)
		assert.Equal(t, StatusSucceeded, s.Status, id)
		assert.Equal(t, "contain", s.Parent, id)
	}
	assert.Equal(t, StatusSkipped, step(t, st, "skipped").Status)
	assert.ElementsMatch(t, []string{"bot.freeze", "exchange.revoke_key", "notify.sms"}, h.actionOrder())
	assert.Equal(t, "notify.sms", h.actionOrder()[2], "the next step waits for the whole group")
	assert.Equal(t, "succeeded/succeeded", h.requests("notify.sms")[0].Params["body"])
	assert.Equal(t, "AK-LEAKED", h.requests("exchange.revoke_key")[0].Params["key_id"])
}

func TestParallelGroupFailsWhenChildAborts(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", map[string]any{"frozen": true})
	h.action("exchange.revoke_key", failing("AuthenticationError"))
	h.ok("core.log", nil)
	h.ok("notify.sms", nil)
	st := h.run(input(t, parallelRunbook))

	assert.Equal(t, StatusFailed, st.Status)
	assert.Equal(t, StatusFailed, step(t, st, "contain").Status)
	assert.Equal(t, StatusFailed, step(t, st, "revoke").Status)
	assert.Equal(t, StatusSucceeded, step(t, st, "freeze").Status, "the sibling finishes")
	assert.Equal(t, StatusSkipped, step(t, st, "sms").Status)
	assert.Contains(t, st.Error, "step revoke failed: AuthenticationError")
	assert.Empty(t, h.requests("notify.sms"))
}

func TestParallelChildContinueAndGroupCompensate(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("bot.unfreeze", nil)
	h.action("exchange.cancel_orders", failing("ExchangeUnavailable"))
	h.action("exchange.revoke_key", failing("AuthenticationError"))
	st := h.run(input(t, `
name: rb
steps:
  - id: contain
    on_failure: compensate
    parallel:
      - id: freeze
        action: bot.freeze
        with: {bot: "${{ inputs.bot }}"}
      - id: cancel
        action: exchange.cancel_orders
        on_failure: continue
      - id: revoke
        action: exchange.revoke_key
`))
	// cancel's own continue keeps it from failing the group; revoke inherits
	// the group's compensate, so freeze is undone.
	assert.Equal(t, StatusFailed, st.Status)
	assert.Equal(t, StatusFailed, step(t, st, "cancel").Status)
	assert.Equal(t, StatusCompensated, step(t, st, "freeze").Status)
	assert.Len(t, h.requests("bot.unfreeze"), 1)
	assert.Contains(t, st.Error, "step revoke failed")
}
