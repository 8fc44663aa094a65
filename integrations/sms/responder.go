package sms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyresponse/runbook/runbooks/authz"
)

// GateDecision is an SMS answer turned into a decision on an approval gate:
// Signed is the engine's statement relaying it (verb approve or deny,
// OnBehalfOf Operator, Factor sms-reply with the code). The engine applies
// it as the workflow's approve/deny Update: Decision{Step: Gate, Identity:
// Operator, Comment: Comment, Signed: &Signed} on run Run of Incident.
type GateDecision struct {
	Incident string
	Run      string
	Gate     string
	Operator string
	Approve  bool
	Comment  string
	Signed   authz.Signed
}

// GateDecider applies a decision to an incident's approval gate.
type GateDecider interface {
	Decide(ctx context.Context, d GateDecision) error
}

// ReplyStatementTTL is how long the engine's statement relaying an SMS
// reply is valid: it is sent at once, so a short life is enough and keeps
// a captured Update from being replayed later.
const ReplyStatementTTL = 5 * time.Minute

// GateResponder is a Responder that maps a code to its incident, run and
// gate through the AckStore and hands APPROVE/DENY to a GateDecider as an
// engine-signed statement on behalf of the operator whose roster phone
// answered. The workflow's validator then checks that statement like any
// other decision (the operator may approve the gate's group; for a gate
// with an SMS second factor, the code is that operator's SMS factor code).
// ACK changes no gate (it stops the escalation, which the webhook already
// recorded); OnAck, when set, is told about it (for the audit trail).
type GateResponder struct {
	Acks    AckStore
	Decider GateDecider
	// Operators is the live operator roster (authz.Live.Policy).
	Operators func() *authz.Compiled
	// Sign signs a statement with the engine key (operatorkey.Sign with
	// the engine's ssh.Signer; it fills the nonce).
	Sign  func(authz.Statement) (authz.Signed, error)
	Now   func() time.Time // default time.Now
	OnAck func(ctx context.Context, p Pending, identity string) error
}

func (g GateResponder) Approve(ctx context.Context, a Answer) error { return g.decide(ctx, a, true) }

func (g GateResponder) Deny(ctx context.Context, a Answer) error { return g.decide(ctx, a, false) }

func (g GateResponder) Ack(ctx context.Context, a Answer) error {
	if g.OnAck == nil {
		return nil
	}
	p, err := g.pending(ctx, a.Code)
	if err != nil {
		return err
	}
	return g.OnAck(ctx, p, a.Identity)
}

func (g GateResponder) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g GateResponder) decide(ctx context.Context, a Answer, approve bool) error {
	switch {
	case g.Decider == nil:
		return errors.New("no gate decider configured")
	case g.Sign == nil:
		return errors.New("the engine has no signing key configured for SMS decisions")
	case g.Operators == nil || g.Operators() == nil:
		return errors.New("this engine has no operator roster loaded")
	}
	p, err := g.pending(ctx, a.Code)
	if err != nil {
		return err
	}
	if p.Gate == "" {
		return fmt.Errorf("this text names no approval gate. %s", cliHint(p))
	}
	if p.Run == "" {
		return fmt.Errorf("code %s is from before codes were bound to a run. %s", a.Code, cliHint(p))
	}
	op, ok := g.Operators().ByPhone(a.Phone)
	if !ok {
		return fmt.Errorf("%s is not the roster phone of any operator. %s", MaskPhone(a.Phone), cliHint(p))
	}
	if p.Operator != "" && p.Operator != op.Name {
		return fmt.Errorf("code %s was sent to another operator", a.Code)
	}
	verb := authz.VerbDeny
	if approve {
		verb = authz.VerbApprove
	}
	now := g.now()
	comment := "by SMS reply from " + MaskPhone(a.Phone)
	signed, err := g.Sign(authz.Statement{Verb: verb, Operator: authz.EngineName, OnBehalfOf: op.Name,
		Incident: p.Incident, Run: p.Run, Step: p.Gate, Comment: comment, IssuedAt: now, Expires: now.Add(ReplyStatementTTL),
		Factor: &authz.Factor{Kind: authz.FactorSMSReply, Code: a.Code}})
	if err != nil {
		return fmt.Errorf("signing the decision: %w", err)
	}
	return g.Decider.Decide(ctx, GateDecision{Incident: p.Incident, Run: p.Run, Gate: p.Gate, Operator: op.Name,
		Approve: approve, Comment: comment, Signed: signed})
}

// pending finds an issued, unexpired code.
func (g GateResponder) pending(ctx context.Context, code string) (Pending, error) {
	p, ok, err := g.Acks.Pending(ctx, code)
	if err != nil {
		return Pending{}, err
	}
	if !ok {
		return Pending{}, fmt.Errorf("code %s was never issued", code)
	}
	if p.Expired(g.now()) {
		return Pending{}, fmt.Errorf("code %s expired at %s", code, p.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return p, nil
}
