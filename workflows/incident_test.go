package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/runbooks"
)

const sequential = `
name: contain-key-breach
steps:
  - id: freeze
    action: bot.freeze
    with:
      bot: ${{ inputs.bot }}
      reason: "key ${{ event.data.key_id }} leaked"
  - id: revoke
    action: exchange.revoke_key
    with:
      exchange: ${{ inputs.exchange }}
      key_id: ${{ event.data.key_id }}
      frozen_at: ${{ steps.freeze.outputs.frozen_at }}
      incident: ${{ incident.id }}
  - id: sms
    action: notify.sms
    with:
      body: "${{ incident.runbook }}: revoked ${{ steps.revoke.outputs.revoked }} (${{ incident.trigger }})"
`

func TestSequentialStepsRenderInputsEventAndOutputs(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", map[string]any{"frozen_at": "2026-11-27T09:00:00Z"})
	h.ok("exchange.revoke_key", map[string]any{"revoked": "AK-LEAKED"})
	h.ok("notify.sms", map[string]any{"message_id": "SM1"})

	st := h.run(input(t, sequential))

	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Equal(t, []string{"bot.freeze", "exchange.revoke_key", "notify.sms"}, h.actionOrder())
	freeze := h.requests("bot.freeze")[0]
	assert.Equal(t, map[string]any{"bot": "bot1", "reason": "key AK-LEAKED leaked"}, freeze.Params)
	assert.Equal(t, "inc-bot1-contain", freeze.IncidentID)
	assert.Equal(t, "contain-key-breach", freeze.Runbook)
	assert.Equal(t, "freeze", freeze.StepID)
	assert.False(t, freeze.Compensation)
	assert.Equal(t, map[string]any{
		"exchange": "binance", "key_id": "AK-LEAKED",
		"frozen_at": "2026-11-27T09:00:00Z", "incident": "inc-bot1-contain",
	}, h.requests("exchange.revoke_key")[0].Params)
	assert.Equal(t, "contain-key-breach: revoked AK-LEAKED (event)", h.requests("notify.sms")[0].Params["body"])

	for _, id := range []string{"freeze", "revoke", "sms"} {
		s := step(t, st, id)
		assert.Equal(t, StatusSucceeded, s.Status, id)
		assert.EqualValues(t, 1, s.Attempts, id)
		require.NotNil(t, s.StartedAt, id)
		require.NotNil(t, s.EndedAt, id)
		assert.False(t, s.EndedAt.Before(*s.StartedAt), id)
	}
	assert.Equal(t, "exchange.revoke_key done", step(t, st, "revoke").Summary)
	assert.Equal(t, map[string]any{"revoked": "AK-LEAKED"}, step(t, st, "revoke").Outputs)
	assert.Equal(t, runbooks.Irreversible, step(t, st, "revoke").SideEffect)
	assert.Equal(t, "sha256:test", st.RunbookHash)
	require.NotNil(t, st.EndedAt)
}

func TestWhenFalseSkipsStep(t *testing.T) {
	h := newHarness(t)
	h.ok("core.log", nil)
	h.ok("notify.sms", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: low
    action: core.log
    when: event.data.severity == "low"
  - id: page
    action: notify.sms
    when: steps.low.status == "skipped" && inputs.bot == "bot1"
`))
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Equal(t, StatusSkipped, step(t, st, "low").Status)
	assert.Contains(t, step(t, st, "low").Summary, "condition is false")
	assert.Equal(t, StatusSucceeded, step(t, st, "page").Status)
	assert.Equal(t, []string{"notify.sms"}, h.actionOrder())
}

func TestBadConditionFailsStep(t *testing.T) {
	h := newHarness(t)
	h.ok("core.log", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: typo
    action: core.log
    when: inputs.bot
`))
	assert.Equal(t, StatusFailed, st.Status)
	assert.Equal(t, StatusFailed, step(t, st, "typo").Status)
	assert.Contains(t, step(t, st, "typo").Error, "want bool")
	assert.Empty(t, h.actionOrder())
}

func TestRetryThenSuccessRecordsAttempts(t *testing.T) {
	h := newHarness(t)
	h.action("exchange.revoke_key", func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		if len(h.requests("exchange.revoke_key")) == 1 {
			return runbooks.ActionResult{}, temporal.NewApplicationError("connection reset", "NetworkError")
		}
		return runbooks.ActionResult{Outputs: map[string]any{"revoked": true}}, nil
	})
	st := h.run(input(t, `
name: rb
steps:
  - id: revoke
    action: exchange.revoke_key
    retry: {max_attempts: 4, initial_interval: 1s, backoff_coefficient: 2, max_interval: 10s}
`))
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.EqualValues(t, 2, step(t, st, "revoke").Attempts)
	assert.Len(t, h.requests("exchange.revoke_key"), 2)
}

func TestNonRetryableErrorStopsRetries(t *testing.T) {
	h := newHarness(t)
	h.action("exchange.revoke_key", func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		return runbooks.ActionResult{}, temporal.NewApplicationError("invalid api key", "AuthenticationError")
	})
	h.ok("notify.sms", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: revoke
    action: exchange.revoke_key
  - id: sms
    action: notify.sms
`))
	assert.Len(t, h.requests("exchange.revoke_key"), 1, "default policy must not retry AuthenticationError")
	revoke := step(t, st, "revoke")
	assert.Equal(t, StatusFailed, revoke.Status)
	assert.Equal(t, "AuthenticationError: invalid api key", revoke.Error)
	assert.EqualValues(t, 1, revoke.Attempts)
	assert.Equal(t, StatusFailed, st.Status)
	assert.Contains(t, st.Error, "step revoke failed: AuthenticationError")
	assert.Equal(t, StatusSkipped, step(t, st, "sms").Status, "steps after an abort-on-failure do not run")
	assert.Empty(t, h.requests("notify.sms"))
}

func TestStepNonRetryableListReplacesDefault(t *testing.T) {
	h := newHarness(t)
	h.action("exchange.revoke_key", func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		if len(h.requests("exchange.revoke_key")) < 3 {
			return runbooks.ActionResult{}, temporal.NewApplicationError("perm not yet propagated", "PermissionError")
		}
		return runbooks.ActionResult{}, temporal.NewApplicationError("exchange says no", "Fatal")
	})
	st := h.run(input(t, `
name: rb
steps:
  - id: revoke
    action: exchange.revoke_key
    retry: {max_attempts: 5, initial_interval: 1s, non_retryable: [Fatal]}
`))
	assert.Len(t, h.requests("exchange.revoke_key"), 3)
	assert.EqualValues(t, 3, step(t, st, "revoke").Attempts)
	assert.Equal(t, "Fatal: exchange says no", step(t, st, "revoke").Error)
}

func TestRetriesExhaustedRecordsMaxAttempts(t *testing.T) {
	h := newHarness(t)
	// A plain Go error carries no AttemptDetail: the workflow falls back to
	// max attempts because the retry state says they ran out.
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		h.mu.Lock()
		h.calls = append(h.calls, req)
		h.mu.Unlock()
		return runbooks.ActionResult{}, errors.New("exchange 503")
	}, activityName("exchange.revoke_key"))
	st := h.run(input(t, `
name: rb
steps:
  - id: revoke
    action: exchange.revoke_key
    retry: {max_attempts: 3, initial_interval: 1s}
`))
	assert.Len(t, h.requests("exchange.revoke_key"), 3)
	assert.Equal(t, StatusFailed, step(t, st, "revoke").Status)
	assert.Contains(t, step(t, st, "revoke").Error, "exchange 503")
	// The SDK test environment reports RETRY_STATE_UNSPECIFIED where the
	// server says MAXIMUM_ATTEMPTS_REACHED; failedAttempts is covered below
	// with the error the server's failure decodes to.
}

func TestFailedAttemptsFromRetryState(t *testing.T) {
	fc := temporal.GetDefaultFailureConverter()
	activityErr := func(state enumspb.RetryState, cause *failurepb.Failure) error {
		return fc.FailureToError(&failurepb.Failure{
			Message: "activity error",
			Cause:   cause,
			FailureInfo: &failurepb.Failure_ActivityFailureInfo{ActivityFailureInfo: &failurepb.ActivityFailureInfo{
				ActivityType: &commonpb.ActivityType{Name: "exchange.revoke_key"},
				RetryState:   state,
			}},
		})
	}
	plain := &failurepb.Failure{Message: "exchange 503", FailureInfo: &failurepb.Failure_ApplicationFailureInfo{
		ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{Type: "ExchangeUnavailable"}}}

	assert.EqualValues(t, 5, failedAttempts(activityErr(enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED, plain), 5))
	assert.EqualValues(t, 0, failedAttempts(activityErr(enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE, plain), 5), "unknown stays 0")
	assert.EqualValues(t, 1, failedAttempts(activityErr(enumspb.RETRY_STATE_TIMEOUT, plain), 1))

	withDetail := temporal.NewApplicationErrorWithOptions("bad key", "AuthenticationError", temporal.ApplicationErrorOptions{
		NonRetryable: true, Details: []any{AttemptDetail{Attempt: 2}}})
	f := fc.ErrorToFailure(withDetail)
	assert.EqualValues(t, 2, failedAttempts(activityErr(enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE, f), 5))
	assert.Equal(t, "AuthenticationError: bad key", errorText(activityErr(enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE, f)))
}

func TestStepTimeout(t *testing.T) {
	h := newHarness(t)
	h.action("exchange.revoke_key", func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		<-ctx.Done() // hangs until the start-to-close timeout cancels it
		return runbooks.ActionResult{}, ctx.Err()
	})
	st := h.run(input(t, `
name: rb
steps:
  - id: revoke
    action: exchange.revoke_key
    timeout: 200ms
    retry: {max_attempts: 1}
`))
	// (The SDK test environment does not retry timed-out activities, so the
	// step allows one attempt; the server retries per the policy.)
	revoke := step(t, st, "revoke")
	assert.Equal(t, StatusFailed, revoke.Status)
	assert.Contains(t, revoke.Error, "timeout")
	assert.Contains(t, revoke.Error, "StartToClose")
	assert.EqualValues(t, 1, revoke.Attempts)
	assert.Len(t, h.requests("exchange.revoke_key"), 1)
	assert.Equal(t, StatusFailed, st.Status)
}

func TestSecretLookingOutputsAreRedacted(t *testing.T) {
	h := newHarness(t)
	h.ok("exchange.create_key", map[string]any{
		"key_id":        "AK-NEW",
		"api_secret":    "s3cr3t-value",
		"Passphrase":    "okx-pass",
		"access-token":  "tok",
		"secret_ref":    "file:bot1/binance",
		"fingerprint":   "sha256:abcd",
		"nested":        map[string]any{"private_key": "-----BEGIN", "ip": "10.0.0.1"},
		"list":          []any{map[string]any{"password": "p"}},
		"withdrawals":   false,
		"secret_sha256": "aa",
	})
	h.ok("core.log", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: create
    action: exchange.create_key
  - id: log
    action: core.log
    with:
      leaked: ${{ steps.create.outputs.api_secret }}
      ref: ${{ steps.create.outputs.secret_ref }}
`))
	out := step(t, st, "create").Outputs
	assert.Equal(t, Redacted, out["api_secret"])
	assert.Equal(t, Redacted, out["Passphrase"])
	assert.Equal(t, Redacted, out["access-token"])
	assert.Equal(t, Redacted, out["secret_sha256"])
	assert.Equal(t, Redacted, out["nested"].(map[string]any)["private_key"])
	assert.Equal(t, "10.0.0.1", out["nested"].(map[string]any)["ip"])
	assert.Equal(t, Redacted, out["list"].([]any)[0].(map[string]any)["password"])
	assert.Equal(t, "AK-NEW", out["key_id"])
	assert.Equal(t, "file:bot1/binance", out["secret_ref"], "references stay usable")
	assert.Equal(t, "sha256:abcd", out["fingerprint"])
	// Later steps see the redacted value, never the secret.
	assert.Equal(t, map[string]any{"leaked": Redacted, "ref": "file:bot1/binance"}, h.requests("core.log")[0].Params)
}

func TestInvalidRunbookFailsIncident(t *testing.T) {
	h := newHarness(t)
	h.ok("core.log", nil)
	st := h.run(input(t, `
name: rb
steps:
  - id: a
    action: core.log
  - id: a
    action: core.log
`))
	assert.Equal(t, StatusFailed, st.Status)
	assert.Contains(t, st.Error, `step id "a" is used twice`)
	assert.Empty(t, h.actionOrder())
}
