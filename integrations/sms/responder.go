package sms

import (
	"context"
	"errors"
	"fmt"
)

// GateDecider applies a decision to an incident's approval gate; the engine
// implements it with the workflow's approve/deny updates (Decision{Step:
// gate, Identity: identity, Comment: comment}). gate "" means "the gate
// that is waiting now".
type GateDecider interface {
	Decide(ctx context.Context, incident, gate, identity string, approve bool, comment string) error
}

// GateResponder is a Responder that maps a code to its incident and gate
// through the AckStore and hands APPROVE/DENY to a GateDecider. ACK changes
// no gate (it stops the escalation, which the webhook already recorded);
// OnAck, when set, is told about it (for the audit trail).
type GateResponder struct {
	Acks    AckStore
	Decider GateDecider
	OnAck   func(ctx context.Context, p Pending, identity string) error
}

func (g GateResponder) Approve(ctx context.Context, code, identity string) error {
	return g.decide(ctx, code, identity, true)
}

func (g GateResponder) Deny(ctx context.Context, code, identity string) error {
	return g.decide(ctx, code, identity, false)
}

func (g GateResponder) Ack(ctx context.Context, code, identity string) error {
	if g.OnAck == nil {
		return nil
	}
	p, err := g.pending(ctx, code)
	if err != nil {
		return err
	}
	return g.OnAck(ctx, p, identity)
}

func (g GateResponder) decide(ctx context.Context, code, identity string, approve bool) error {
	if g.Decider == nil {
		return errors.New("no gate decider configured")
	}
	p, err := g.pending(ctx, code)
	if err != nil {
		return err
	}
	return g.Decider.Decide(ctx, p.Incident, p.Gate, identity, approve, "by SMS, code "+code)
}

func (g GateResponder) pending(ctx context.Context, code string) (Pending, error) {
	p, ok, err := g.Acks.Pending(ctx, code)
	if err != nil {
		return Pending{}, err
	}
	if !ok {
		return Pending{}, fmt.Errorf("code %s was never issued", code)
	}
	return p, nil
}
