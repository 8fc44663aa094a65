package exchange

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an exchange failure for the retry policy.
type Kind string

const (
	KindAuthentication Kind = "authentication" // key unknown, revoked, bad signature: never retried
	KindPermission     Kind = "permission"     // key lacks the right, or IP refused: never retried
	KindRateLimited    Kind = "rate_limited"   // back off (RetryAfter when known)
	KindNetwork        Kind = "network"        // transport failure, timeout: retried
	KindUnavailable    Kind = "unavailable"    // 5xx, maintenance: retried
	KindNotFound       Kind = "not_found"      // key / order / sub-account absent
	KindInvalid        Kind = "invalid"        // bad request: never retried
	KindUnsupported    Kind = "unsupported"    // the exchange has no API for this: manual fallback
	KindExchange       Kind = "exchange"       // any other exchange-side refusal: not retried
)

// Retryable tells whether a failure of this kind may succeed if tried again.
func (k Kind) Retryable() bool {
	switch k {
	case KindRateLimited, KindNetwork, KindUnavailable:
		return true
	}
	return false
}

// Error is every adapter's error type.
type Error struct {
	Kind     Kind
	Exchange string
	Op       string // "create_key", "revoke_key", …
	// Code is the exchange's own error code when known ("-2015").
	Code    string
	Message string
	// RetryAfter is the exchange's Retry-After for KindRateLimited (0 = unknown).
	RetryAfter time.Duration
	// Err is the underlying error (a *ccxt.Error, a net error), if any.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Exchange, e.Op, e.Kind)
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, or "" when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// IsNotFound tells whether err says the thing is absent.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// KindFromCCXT maps a ccxt error type name (ccxt.ErrorType, passed as a
// string so this package need not import ccxt) to a Kind. ccxt's Go errors
// carry no inheritance, so the sets are explicit; unknown names are
// KindExchange (not retried: better to stop than to hammer an exchange with a
// request it does not understand).
func KindFromCCXT(typ string) Kind {
	switch typ {
	case "AuthenticationError", "InvalidNonce", "AccountSuspended":
		return KindAuthentication
	case "PermissionDenied", "AccountNotEnabled", "RestrictedLocation":
		return KindPermission
	case "RateLimitExceeded", "DDoSProtection":
		return KindRateLimited
	case "NetworkError", "RequestTimeout":
		return KindNetwork
	case "ExchangeNotAvailable", "OnMaintenance", "BadResponse", "NullResponse":
		return KindUnavailable
	case "OrderNotFound", "BadSymbol":
		return KindNotFound
	case "BadRequest", "ArgumentsRequired", "InvalidOrder", "InvalidAddress", "InsufficientFunds":
		return KindInvalid
	case "NotSupported":
		return KindUnsupported
	}
	return KindExchange
}
