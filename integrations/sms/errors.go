package sms

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twilio/twilio-go/client"
)

// ErrorKind says what a failure means for the caller.
type ErrorKind string

const (
	// KindAuth: the account SID or token was refused (HTTP 401, code 20003).
	// Retrying cannot help.
	KindAuth ErrorKind = "auth"
	// KindRecipient: this number cannot receive the SMS (invalid, opted
	// out, not mobile, region not enabled). Try the next person instead.
	KindRecipient ErrorKind = "recipient"
	// KindInvalid: Twilio rejected the request itself (bad sender, body too
	// long, …). The same request will be rejected again.
	KindInvalid ErrorKind = "invalid"
	// KindNotFound: the message SID does not exist (fetch).
	KindNotFound ErrorKind = "not_found"
	// KindRateLimited: HTTP 429 / code 20429; back off.
	KindRateLimited ErrorKind = "rate_limited"
	// KindUnavailable: Twilio answered 5xx.
	KindUnavailable ErrorKind = "unavailable"
	// KindNetwork: no answer at all (refused, reset, timeout).
	KindNetwork ErrorKind = "network"
)

// Twilio error codes that mean "this recipient", not "this request".
var recipientCodes = map[int]bool{
	21211: true, // invalid 'To' phone number
	21214: true, // 'To' number cannot be reached
	21408: true, // permission to send to this region not enabled
	21610: true, // recipient replied STOP
	21612: true, // cannot route to this number
	21614: true, // 'To' is not a valid mobile number
}

// Error is every failure Client returns.
type Error struct {
	Op         string // "send" or "fetch"
	Kind       ErrorKind
	Status     int // HTTP status, 0 when none arrived
	Code       int // Twilio error code, 0 when none
	Message    string
	RetryAfter time.Duration // from a 429's Retry-After header
	err        error
}

func (e *Error) Error() string {
	s := "twilio " + e.Op + ": " + string(e.Kind)
	if e.Status != 0 || e.Code != 0 {
		s += fmt.Sprintf(" (HTTP %d, code %d)", e.Status, e.Code)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *Error) Unwrap() error { return e.err }

// Retryable reports whether the same request may succeed later.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindRateLimited, KindUnavailable, KindNetwork:
		return true
	}
	return false
}

// AsError returns err's *Error, if it has one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// classify turns what twilio-go returned into an *Error. seen is what the
// transport saw of the last response (status 0 when none arrived): twilio-go
// reports a non-JSON error body (a proxy's HTML 502) as a bare decode error,
// so the status has to come from the transport.
func classify(op string, err error, seen observed) *Error {
	e := &Error{Op: op, err: err, Status: seen.status, Message: err.Error()}
	if seen.status == 429 {
		e.RetryAfter = parseRetryAfter(seen.retryAfter)
	}
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		e.Status, e.Code, e.Message = rest.Status, rest.Code, rest.Message
		if e.Status == 0 {
			e.Status = seen.status
		}
	}
	switch {
	case e.Status == 401 || e.Code == 20003:
		e.Kind = KindAuth
	case e.Status == 429 || e.Code == 20429:
		e.Kind = KindRateLimited
	case e.Status >= 500:
		e.Kind = KindUnavailable
	case recipientCodes[e.Code]:
		e.Kind = KindRecipient
	case e.Status == 404 || e.Code == 20404:
		e.Kind = KindNotFound
	case e.Status >= 400:
		e.Kind = KindInvalid
	case rest != nil:
		// twilio-go's own client-side checks (e.g. 21222 illegal chars in
		// the SID) carry a status but never reached Twilio.
		e.Kind = KindInvalid
	default:
		e.Kind = KindNetwork
	}
	return e
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
