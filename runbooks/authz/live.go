package authz

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Authorizer is what the interpreter's validators and start check call.
type Authorizer interface {
	Authorize(req Request) (Verified, error)
}

// Live is the worker's current policy and secrets. A reload (SIGHUP) swaps
// them at once, so an operator removed from the roster cannot act on any
// running incident after it. It also remembers TOTP steps used by each
// operator in this process, so one code does not answer two incidents
// (the workflow refuses reuse within its own run).
type Live struct {
	cur atomic.Pointer[liveState]

	mu   sync.Mutex
	used map[string]int64 // operator → last TOTP step consumed

	// OnRefusal, when set, is told of every refused attempt (the worker
	// writes it to the incident's audit trail: a refused Update leaves no
	// trace in Temporal's history). It must not block.
	OnRefusal func(req Request, r *Refusal)
}

type liveState struct {
	c   *Compiled
	sec Secrets
}

// Set installs a policy and its secrets.
func (l *Live) Set(c *Compiled, sec Secrets) { l.cur.Store(&liveState{c: c, sec: sec}) }

// Policy is the current policy (nil before the first Set).
func (l *Live) Policy() *Compiled {
	if s := l.cur.Load(); s != nil {
		return s.c
	}
	return nil
}

// Secrets are the current second-factor secrets.
func (l *Live) Secrets() Secrets {
	if s := l.cur.Load(); s != nil {
		return s.sec
	}
	return nil
}

// Authorize checks req against the current policy; a TOTP step this
// process has already consumed for the operator is refused.
func (l *Live) Authorize(req Request) (Verified, error) {
	s := l.cur.Load()
	if s == nil || s.c == nil {
		r := &Refusal{Verb: req.Verb, Reason: "this worker has no operator roster loaded"}
		if l.OnRefusal != nil {
			l.OnRefusal(req, r)
		}
		return Verified{}, r
	}
	v, err := s.c.Authorize(req, s.sec)
	if err == nil && v.Factor == FactorTOTP {
		l.mu.Lock()
		last, seen := l.used[v.Operator]
		l.mu.Unlock()
		if seen && v.FactorStep <= last {
			v, err = Verified{}, &Refusal{Verb: req.Verb, Operator: v.Operator, Reason: "this TOTP code (or a later one) was already used: wait for the next code"}
		}
	}
	var r *Refusal
	if err != nil && l.OnRefusal != nil && errors.As(err, &r) {
		l.OnRefusal(req, r)
	}
	return v, err
}

// Refused tells OnRefusal of a refusal made on top of the policy — the
// workflow's single-use rules (a statement or TOTP step already used in the
// run, one operator answering a gate twice) — so it is recorded like the
// policy's own.
func (l *Live) Refused(req Request, r *Refusal) {
	if l.OnRefusal != nil && r != nil {
		l.OnRefusal(req, r)
	}
}

// Consume marks v's TOTP step used (call once the decision is accepted).
func (l *Live) Consume(v Verified) {
	if v.Factor != FactorTOTP {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.used == nil {
		l.used = map[string]int64{}
	}
	if v.FactorStep > l.used[v.Operator] {
		l.used[v.Operator] = v.FactorStep
	}
}
