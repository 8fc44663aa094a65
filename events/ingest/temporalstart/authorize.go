package temporalstart

import (
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// StartTTL is how long an engine start statement is good for: authz allows
// the engine at most five minutes (docs/security.md), enough for a start
// that waits on a busy frontend, too short to replay later.
const StartTTL = 5 * time.Minute

// Trigger values of engine starts (authz lets the engine sign these only).
const (
	TriggerEvent = "event"
	TriggerFleet = "fleet"
)

// Signer signs a statement with the engine's key. It is injected (never a
// global) so tests sign with their own key and a worker without one signs
// nothing: its starts then fail closed at the workflow's start check.
type Signer func(authz.Statement) (authz.Signed, error)

// KeySigner signs with k (the engine key, an ed25519 ssh.Signer).
func KeySigner(k ssh.Signer) Signer {
	return func(st authz.Statement) (authz.Signed, error) { return operatorkey.Sign(k, st) }
}

// authorize sets in.Trigger and, when sign is set, in.Authorization: the
// engine's exec statement for exactly this start — incident, runbook and
// its hash, StartHash of inputs and event, the trigger — issued now and
// expiring StartTTL later. A retry signs again (a fresh nonce): each start
// request carries its own statement.
func authorize(in *workflows.IncidentInput, trigger string, sign Signer, now time.Time) error {
	if trigger == "" {
		trigger = TriggerEvent
	}
	in.Trigger = trigger
	if sign == nil {
		return nil
	}
	signed, err := sign(EngineStatement(*in, now))
	if err != nil {
		return fmt.Errorf("sign the start of %s: %w", in.IncidentID, err)
	}
	in.Authorization = &signed
	return nil
}

// EngineStatement is the statement the engine signs to start in.
func EngineStatement(in workflows.IncidentInput, now time.Time) authz.Statement {
	st := workflows.StartStatement(in)
	st.Operator = authz.EngineName
	st.IssuedAt, st.Expires = now.UTC(), now.UTC().Add(StartTTL)
	return st
}
