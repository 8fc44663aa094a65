package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/workflows"
)

// ErrAction is the error type given to an action's plain Go error (one that
// is not a temporal.ApplicationError). It is retryable. Without it Temporal
// would use the Go type name ("*errors.errorString") as the type.
const ErrAction = "ActionError"

// withAttempt rebuilds an action's error so that its first detail is a
// workflows.AttemptDetail: Temporal's activity error carries no attempt
// count, and the workflow reads it from there to record how many attempts a
// failed step took. Type, message, cause, non-retryable flag, next retry
// delay and category are kept. Left as they are: errors that already carry
// details (they cannot be re-encoded here without knowing their types),
// cancellations (the SDK reports those as cancelled, not failed) and
// activity.ErrResultPending.
func withAttempt(err error, attempt int32) error {
	if err == nil || errors.Is(err, activity.ErrResultPending) || errors.Is(err, context.Canceled) {
		return err
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return err
	}
	detail := workflows.AttemptDetail{Attempt: attempt}
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		return temporal.NewApplicationErrorWithOptions(err.Error(), ErrAction, temporal.ApplicationErrorOptions{
			Cause:   err,
			Details: []any{detail},
		})
	}
	if ae.HasDetails() {
		return err
	}
	msg := ae.Message()
	if err != error(ae) { // wrapped (fmt.Errorf("…: %w", appErr)): keep the whole text
		msg = err.Error()
	}
	return temporal.NewApplicationErrorWithOptions(msg, ae.Type(), temporal.ApplicationErrorOptions{
		NonRetryable:   ae.NonRetryable(),
		Cause:          errors.Unwrap(ae),
		Details:        []any{detail},
		NextRetryDelay: ae.NextRetryDelay(),
		Category:       ae.Category(),
	})
}
