package notify

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/integrations/sms"
)

// Error types notify.sms adds to activities' list.
const (
	// ErrOnCallUnreachable: every person in the chain was paged (or could
	// not be) and nobody answered. Final; the runbook's on_failure decides.
	ErrOnCallUnreachable = "OnCallUnreachable"
	// ErrAwaitingAnswer: an escalating page is out and unanswered. Not a
	// failure: the step returns it with a retry delay of the rest of the
	// ack timeout, so Temporal — not a sleeping activity — holds the wait.
	ErrAwaitingAnswer = "AwaitingAnswer"
	// ErrStore: the sent log or ack store could not be read or written.
	ErrStore = "SMSStoreUnavailable"
)

// defaultRateLimitDelay is the back-off after a 429 without Retry-After.
const defaultRateLimitDelay = 5 * time.Second

// activityError maps a Twilio failure to the error kinds the workflow's
// retry policy understands: a refused credential is never retried, a 429
// waits for Retry-After, 5xx and network failures are retried.
func activityError(err error) error {
	e, ok := sms.AsError(err)
	if !ok {
		return activities.Retryable(activities.ErrUnavailable, err)
	}
	switch e.Kind {
	case sms.KindAuth:
		return activities.NonRetryable(activities.ErrAuthentication, e)
	case sms.KindRateLimited:
		d := e.RetryAfter
		if d <= 0 {
			d = defaultRateLimitDelay
		}
		return activities.RetryAfter(e, d)
	case sms.KindNetwork:
		return activities.Retryable(activities.ErrNetwork, e)
	case sms.KindUnavailable:
		return activities.Retryable(activities.ErrUnavailable, e)
	default: // invalid request, not found: the same request fails again
		return activities.NonRetryable(activities.ErrInvalidParams, e)
	}
}

func storeError(what string, err error) error {
	return activities.Retryable(ErrStore, fmt.Errorf("notify.sms: %s: %w", what, err))
}

// awaiting is the "look again later" error of an escalating page. It is
// marked benign: the SDK logs it at debug level and keeps it out of failure
// metrics, since waiting for a person is normal operation.
func awaiting(reason string, wait time.Duration) error {
	return temporal.NewApplicationErrorWithOptions(reason, ErrAwaitingAnswer,
		temporal.ApplicationErrorOptions{NextRetryDelay: wait, Category: temporal.ApplicationErrorCategoryBenign})
}

// AwaitingDelay reports whether err is an escalating page's wait and how
// long it asked Temporal to wait.
func AwaitingDelay(err error) (time.Duration, bool) {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() == ErrAwaitingAnswer {
		return ae.NextRetryDelay(), true
	}
	return 0, false
}
