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
