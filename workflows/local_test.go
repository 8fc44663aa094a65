package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/runbooks"
)

// A step marked local runs as a local activity, keeps its retry policy and
// records its attempts and outputs like any step; unmarked steps stay
// ordinary activities.
func TestLocalStepRunsAsLocalActivityWithRetries(t *testing.T) {
	h := newHarness(t)
	local := map[string]bool{}
	h.action("exchange.set_ip_whitelist", func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		local[req.StepID] = activity.GetInfo(ctx).IsLocalActivity
		if len(h.requests("exchange.set_ip_whitelist")) == 1 {
			return runbooks.ActionResult{}, temporal.NewApplicationError("429", "RateLimited")
		}
		return runbooks.ActionResult{Outputs: map[string]any{"ips": []any{"10.0.0.1"}}}, nil
	})
	h.action("exchange.revoke_key", func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		local[req.StepID] = activity.GetInfo(ctx).IsLocalActivity
		return runbooks.ActionResult{}, nil
	})
	st := h.run(input(t, `
name: rb
steps:
  - id: lockout
    action: exchange.set_ip_whitelist
    local: true
    retry: {max_attempts: 3, initial_interval: 10ms}
  - id: revoke
    action: exchange.revoke_key
`))
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.EqualValues(t, 2, step(t, st, "lockout").Attempts)
	assert.Equal(t, []any{"10.0.0.1"}, step(t, st, "lockout").Outputs["ips"])
	assert.True(t, local["lockout"], "lockout should run as a local activity")
	assert.False(t, local["revoke"], "revoke should be an ordinary activity")
}
