package activities

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Error types an action reports; runbooks name them in retry.non_retryable
// and the workflow's retry policy keys off them.
const (
	ErrAuthentication = "AuthenticationError" // credentials rejected: never retried
	ErrPermission     = "PermissionError"     // key lacks the permission: never retried
	ErrRateLimited    = "RateLimited"         // back off (Retry-After honoured)
	ErrNetwork        = "NetworkError"        // transport failure: retried
	ErrUnavailable    = "ExchangeUnavailable" // 5xx / maintenance: retried
	ErrInvalidParams  = "InvalidParams"       // bad input: never retried
	ErrNotFound       = "NotFound"
	ErrForbiddenHost  = "ForbiddenHost" // http.request to a host not allowed
)

// NonRetryable wraps err as an application error Temporal will not retry.
func NonRetryable(kind string, err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), kind, err)
}

// Retryable wraps err as an application error of the given kind that Temporal
// retries per the step's policy.
func Retryable(kind string, err error) error {
	return temporal.NewApplicationError(err.Error(), kind, err)
}

// RetryAfter wraps err as a rate-limit error whose next attempt waits at least
// delay (the exchange's Retry-After), overriding the policy's backoff.
func RetryAfter(err error, delay time.Duration) error {
	return temporal.NewApplicationErrorWithOptions(err.Error(), ErrRateLimited, temporal.ApplicationErrorOptions{
		Cause:          err,
		NextRetryDelay: delay,
	})
}

// ErrorType returns the application error type of err, or "".
func ErrorType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}
