package ccxtutil

import (
	"errors"

	"github.com/keyresponse/runbook/integrations/exchange"
)

// Refused records on v a refusal of the key being verified (authentication
// or permission) and reports whether err was one: for VerifyKey a refused
// key is the answer, not a failure of the check.
func Refused(v *exchange.Verification, err error) bool {
	switch k := exchange.KindOf(err); k {
	case exchange.KindAuthentication, exchange.KindPermission:
		v.Rejection = k
		var e *exchange.Error
		if errors.As(err, &e) {
			v.Message = e.Message
		}
		return true
	}
	return false
}

// Verify is the frame of every adapter's VerifyKey: with a client on the
// key sending from fromIP (do leases it), make one read-only call that
// proves the key authenticates, and let fill read the key's rights and
// whitelist from the answer. A refused key is the answer (Authenticated
// false, Rejection set), not an error.
func Verify[E, R any](fromIP string, do func(fn func(ex E) error) error, read func(ex E) (R, error),
	fill func(v *exchange.Verification, ex E, res R) error) (exchange.Verification, error) {
	v := exchange.Verification{FromIP: fromIP}
	var readErr error
	err := do(func(ex E) error {
		res, err := read(ex)
		if err != nil {
			readErr = err
			return err
		}
		return fill(&v, ex, res)
	})
	if err != nil {
		if readErr != nil && Refused(&v, readErr) {
			return v, nil
		}
		return v, err
	}
	v.Authenticated = true
	return v, nil
}
