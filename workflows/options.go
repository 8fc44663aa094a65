package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
)

// Defaults for steps that leave timeout or retry out. Temporal reads
// MaximumAttempts 0 as "retry forever", which an incident must never do, so
// every zero field falls back to a bounded default.
const (
	DefaultStepTimeout        = 5 * time.Minute
	DefaultMaxAttempts        = 5
	DefaultInitialInterval    = time.Second
	DefaultBackoffCoefficient = 2.0
	DefaultMaxInterval        = 30 * time.Second
)

// DefaultNonRetryable are the error types (activities/errors.go) that retrying
// cannot fix. A step that lists its own non_retryable replaces this list, so
// a runbook can choose to retry e.g. PermissionError while a new key's
// permissions propagate.
var DefaultNonRetryable = []string{"AuthenticationError", "PermissionError", "InvalidParams"}

// activityOptions maps a step's timeout and retry block onto Temporal
// activity options. It also returns the effective maximum attempts, which the
// workflow records when retries run out.
func activityOptions(st runbooks.Step, activityID string) (workflow.ActivityOptions, int32) {
	timeout := st.Timeout.D()
	if timeout <= 0 {
		timeout = DefaultStepTimeout
	}
	rp := &temporal.RetryPolicy{
		InitialInterval:        DefaultInitialInterval,
		BackoffCoefficient:     DefaultBackoffCoefficient,
		MaximumInterval:        DefaultMaxInterval,
		MaximumAttempts:        DefaultMaxAttempts,
		NonRetryableErrorTypes: append([]string(nil), DefaultNonRetryable...),
	}
	if r := st.Retry; r != nil {
		if r.MaxAttempts > 0 {
			rp.MaximumAttempts = int32(r.MaxAttempts)
		}
		if r.InitialInterval > 0 {
			rp.InitialInterval = r.InitialInterval.D()
		}
		if r.BackoffCoefficient >= 1 {
			rp.BackoffCoefficient = r.BackoffCoefficient
		}
		if r.MaxInterval > 0 {
			rp.MaximumInterval = r.MaxInterval.D()
		}
		if len(r.NonRetryable) > 0 {
			rp.NonRetryableErrorTypes = append([]string(nil), r.NonRetryable...)
		}
	}
	// Temporal rejects a maximum interval below the initial one.
	if rp.MaximumInterval < rp.InitialInterval {
		rp.MaximumInterval = rp.InitialInterval
	}
	summary := st.ID
	if st.Name != "" {
		summary = st.ID + ": " + st.Name
	}
	return workflow.ActivityOptions{
		ActivityID:          activityID,
		StartToCloseTimeout: timeout,
		RetryPolicy:         rp,
		Summary:             summary,
	}, rp.MaximumAttempts
}

// retryBudget is the longest all attempts of an activity can take under
// its retry policy: every attempt running to its timeout plus every
// backoff between attempts. Capped at a day (an unlimited policy).
func retryBudget(timeout time.Duration, rp *temporal.RetryPolicy) time.Duration {
	const ceiling = 24 * time.Hour
	if rp == nil || rp.MaximumAttempts <= 0 {
		return ceiling
	}
	total := time.Duration(0)
	interval := rp.InitialInterval
	for i := int32(0); i < rp.MaximumAttempts && total < ceiling; i++ {
		total += timeout
		if i+1 < rp.MaximumAttempts {
			total += interval
			interval = min(time.Duration(float64(interval)*rp.BackoffCoefficient), rp.MaximumInterval)
		}
	}
	return min(total, ceiling)
}
