package breach

import (
	"errors"
	"fmt"
	"strings"
)

// Reason is a stable, machine-readable code for why an event was refused. It
// is what lands in the Runbook-Dlq-Reason header and in the Stats counters,
// so values never change once published.
type Reason string

const (
	ReasonOversized       Reason = "oversized"        // body over MaxEventBytes
	ReasonMalformedJSON   Reason = "malformed_json"   // not one JSON object, duplicate keys, too deep
	ReasonSecretField     Reason = "secret_field"     // a key named like a secret anywhere in the event
	ReasonSchema          Reason = "schema"           // JSON Schema violation (missing field, wrong type, ...)
	ReasonSubjectMismatch Reason = "subject_mismatch" // NATS subject is not breach.<subject>.<kind>
	ReasonUnsigned        Reason = "unsigned"         // no signature and the subject is not allowed unsigned
	ReasonUnknownKey      Reason = "unknown_key"      // sigkeyid not in the keyring
	ReasonBadSignature    Reason = "bad_signature"    // HMAC does not match
	ReasonExpired         Reason = "expired"          // time older than the window
	ReasonFuture          Reason = "future"           // time further ahead than the window
	ReasonReplayed        Reason = "replayed"         // event id seen before in another message
)

// Error is a permanent refusal of one event: retrying the same bytes can
// never succeed. Detail never contains a field value that could be secret.
type Error struct {
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + e.Detail
}

// maxDetail bounds error text: it travels in NATS headers and logs.
const maxDetail = 400

func refuse(r Reason, format string, args ...any) *Error {
	d := fmt.Sprintf(format, args...)
	d = strings.Map(func(c rune) rune {
		if c == '\r' || c == '\n' || c == '\t' {
			return ' '
		}
		return c
	}, d)
	if len(d) > maxDetail {
		d = d[:maxDetail] + "…"
	}
	return &Error{Reason: r, Detail: d}
}

// ReasonOf returns the refusal reason of err, or "" when err is not a
// permanent refusal (nil, or an infrastructure error worth retrying).
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
