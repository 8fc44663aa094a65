package exchange

import (
	"context"
	"errors"
	"time"

	"github.com/keyresponse/runbook/activities"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
)

// Error types specific to the exchange actions (in addition to the shared
// ones in package activities).
const (
	ErrUnsupported        = "Unsupported"        // no API for this on the exchange: manual fallback
	ErrExchange           = "ExchangeError"      // other exchange refusal: not retried
	ErrSecretStore        = "SecretStoreError"   // the secret store failed: retried
	ErrVerificationFailed = "VerificationFailed" // a key check did not hold: retried (propagation)
)

// defaultRateLimitBackoff is used when the exchange sent no Retry-After.
const defaultRateLimitBackoff = time.Second

// ActivityError maps an exchange error to the activity error kinds the
// workflow's retry policy keys off: authentication and permission failures
// are never retried, rate limits wait Retry-After, network and availability
// problems are retried. Errors already shaped by package activities pass
// through unchanged.
func ActivityError(err error) error {
	if err == nil {
		return nil
	}
	if activities.ErrorType(err) != "" {
		return err
	}
	var e *xchg.Error
	if !errors.As(err, &e) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return activities.Retryable(activities.ErrNetwork, err)
		}
		return activities.NonRetryable(ErrExchange, err)
	}
	switch e.Kind {
	case xchg.KindAuthentication:
		return activities.NonRetryable(activities.ErrAuthentication, err)
	case xchg.KindPermission:
		return activities.NonRetryable(activities.ErrPermission, err)
	case xchg.KindRateLimited:
		d := e.RetryAfter
		if d <= 0 {
			d = defaultRateLimitBackoff
		}
		return activities.RetryAfter(err, d)
	case xchg.KindNetwork:
		return activities.Retryable(activities.ErrNetwork, err)
	case xchg.KindUnavailable:
		return activities.Retryable(activities.ErrUnavailable, err)
	case xchg.KindNotFound:
		return activities.NonRetryable(activities.ErrNotFound, err)
	case xchg.KindInvalid:
		return activities.NonRetryable(activities.ErrInvalidParams, err)
	case xchg.KindUnsupported:
		return activities.NonRetryable(ErrUnsupported, err)
	}
	return activities.NonRetryable(ErrExchange, err)
}
