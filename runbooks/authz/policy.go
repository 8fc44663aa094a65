package authz

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"time"

	"golang.org/x/crypto/ssh"
)

// EngineName is the principal the engine signs as: event and fleet starts,
// drill runs, and SMS replies relayed from Twilio's webhook. No operator may
// take the name.
const EngineName = "engine"

// Operator is one roster entry: a person who may act.
type Operator struct {
	Name string `json:"name" yaml:"name"`
	// Keys are authorized_keys lines ("ssh-ed25519 AAAA… alice@laptop").
	Keys  []string `json:"keys" yaml:"keys"`
	Phone string   `json:"phone,omitempty" yaml:"phone,omitempty"` // E.164, for pages and SMS codes
	Roles []string `json:"roles" yaml:"roles"`
}

// Policy is the authorization configuration as the worker loads it.
type Policy struct {
	Operators []Operator `json:"operators"`
	// Roles adds roles beside BuiltinRoles.
	Roles map[string]Role `json:"roles,omitempty"`
	// EngineKeys are the engine's own public keys (its signing key's).
	EngineKeys []string `json:"engine_keys,omitempty"`
	// Registered maps the definition digest (runbooks.DefinitionDigest of
	// the parsed definition and its resolved action metadata) of every
	// runbook the worker knows — shipped or from its configured directories
	// — to its name. Any other definition is ad hoc, whatever it is called.
	Registered map[string]string `json:"registered,omitempty"`
	// MaxAge bounds Expires-IssuedAt of a statement (default
	// DefaultMaxAge); drill.schedule statements may live MaxDrillAge.
	MaxAge time.Duration `json:"max_age,omitempty"`
}

// Defaults of Policy.
const (
	DefaultMaxAge = 10 * time.Minute
	MaxDrillAge   = 400 * 24 * time.Hour
	ClockSkew     = time.Minute
	// MaxEngineAge bounds the engine's own statements: a leaked one (from
	// a payload) is good for less than an operator's.
	MaxEngineAge = 5 * time.Minute
	MinNonce     = 16
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{0,63}$`)

// Compiled is a checked policy, ready to authorize.
type Compiled struct {
	p       Policy
	ops     map[string]*compiledOp
	byKey   map[string]string // marshalled key → operator name
	engine  [][]byte
	version string
}

type compiledOp struct {
	op    Operator
	keys  [][]byte
	perms Role
}

// Compile checks the policy: names are unique and well formed, every role
// exists, every key parses as ssh-ed25519 and belongs to one operator.
// Errors name the operator and field ("operators[1] (bob).keys[0]: …").
func Compile(p Policy) (*Compiled, error) {
	c := &Compiled{p: p, ops: map[string]*compiledOp{}, byKey: map[string]string{}}
	for name := range p.Roles {
		if _, builtin := BuiltinRoles[name]; builtin {
			return nil, fmt.Errorf("roles.%s: a built-in role cannot be redefined", name)
		}
		if !nameRE.MatchString(name) {
			return nil, fmt.Errorf("roles.%s: a role name is lower-case letters, digits, '.', '_' or '-'", name)
		}
	}
	for i, op := range p.Operators {
		at := fmt.Sprintf("operators[%d] (%s)", i, op.Name)
		switch {
		case !nameRE.MatchString(op.Name):
			return nil, fmt.Errorf("operators[%d].name %q: lower-case letters, digits, '.', '_' or '-', starting with a letter", i, op.Name)
		case op.Name == EngineName:
			return nil, fmt.Errorf("%s.name: %q is reserved for the engine", at, EngineName)
		case c.ops[op.Name] != nil:
			return nil, fmt.Errorf("%s.name: listed twice", at)
		case len(op.Keys) == 0:
			return nil, fmt.Errorf("%s.keys: at least one ssh-ed25519 public key is required", at)
		case len(op.Roles) == 0:
			return nil, fmt.Errorf("%s.roles: at least one role is required (built in: %v)", at, BuiltinRoleNames())
		}
		if op.Phone != "" {
			for j := 0; j < i; j++ {
				if p.Operators[j].Phone == op.Phone {
					return nil, fmt.Errorf("%s.phone: %s is also %s's (an SMS reply names its sender by phone)", at, op.Phone, p.Operators[j].Name)
				}
			}
		}
		co := &compiledOp{op: op}
		var roles []Role
		for j, rn := range op.Roles {
			r, ok := BuiltinRoles[rn]
			if !ok {
				r, ok = p.Roles[rn]
			}
			if !ok {
				return nil, fmt.Errorf("%s.roles[%d]: unknown role %q (built in: %v; others go under roles:)", at, j, rn, BuiltinRoleNames())
			}
			roles = append(roles, r)
		}
		co.perms = union(roles)
		for j, line := range op.Keys {
			pub, err := ParsePublicKey(line)
			if err != nil {
				return nil, fmt.Errorf("%s.keys[%d]: %w", at, j, err)
			}
			m := pub.Marshal()
			if other, dup := c.byKey[string(m)]; dup {
				return nil, fmt.Errorf("%s.keys[%d]: the same key is also %s's (one key, one person)", at, j, other)
			}
			c.byKey[string(m)] = op.Name
			co.keys = append(co.keys, m)
		}
		c.ops[op.Name] = co
	}
	for j, line := range p.EngineKeys {
		pub, err := ParsePublicKey(line)
		if err != nil {
			return nil, fmt.Errorf("engine key %d: %w", j, err)
		}
		if other, dup := c.byKey[string(pub.Marshal())]; dup {
			return nil, fmt.Errorf("engine key %d: it is also operator %s's key", j, other)
		}
		c.engine = append(c.engine, pub.Marshal())
	}
	c.version = policyVersion(p)
	return c, nil
}

// policyVersion is a short hash of who may do what (recorded with each
// verified decision, so the record says which roster allowed it).
func policyVersion(p Policy) string {
	q := p
	q.Registered = nil
	b, _ := json.Marshal(q)
	keys := make([]string, 0, len(p.Registered))
	for h := range p.Registered {
		keys = append(keys, h)
	}
	sort.Strings(keys)
	kb, _ := json.Marshal(keys)
	sum := sha256.Sum256(append(b, kb...))
	return hex.EncodeToString(sum[:8])
}

// Version identifies the policy (roster, roles, registered runbooks).
func (c *Compiled) Version() string { return c.version }

// Operator returns the roster entry of name.
func (c *Compiled) Operator(name string) (Operator, bool) {
	if co := c.ops[name]; co != nil {
		return co.op, true
	}
	return Operator{}, false
}

// Operators lists the roster in its configured order.
func (c *Compiled) Operators() []Operator { return append([]Operator(nil), c.p.Operators...) }

// Permissions is the union of name's roles.
func (c *Compiled) Permissions(name string) (Role, bool) {
	if co := c.ops[name]; co != nil {
		return co.perms, true
	}
	return Role{}, false
}

// ByPhone finds the operator whose roster phone is phone.
func (c *Compiled) ByPhone(phone string) (Operator, bool) {
	for _, op := range c.p.Operators {
		if op.Phone != "" && op.Phone == phone {
			return op, true
		}
	}
	return Operator{}, false
}

// Approvers lists the operators who may answer gates of group, in roster order.
func (c *Compiled) Approvers(group string) []Operator {
	var out []Operator
	for _, op := range c.p.Operators {
		if c.ops[op.Name].perms.CanApprove(group) {
			out = append(out, op)
		}
	}
	return out
}

// Registered reports whether definition (a DefinitionDigest) is a runbook
// the worker knows under name.
func (c *Compiled) Registered(name, definition string) bool {
	n, ok := c.p.Registered[definition]
	return ok && n == name
}

// KeyOwner names the operator a public key belongs to ("" if nobody).
func (c *Compiled) KeyOwner(pub ssh.PublicKey) string { return c.byKey[string(pub.Marshal())] }

func (c *Compiled) principalHas(name string, pub ssh.PublicKey) bool {
	m := pub.Marshal()
	keys := c.engine
	if name != EngineName {
		co := c.ops[name]
		if co == nil {
			return false
		}
		keys = co.keys
	}
	for _, k := range keys {
		if bytes.Equal(k, m) {
			return true
		}
	}
	return false
}
