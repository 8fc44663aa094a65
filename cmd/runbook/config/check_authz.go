package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// ApproversMigration is why a config with the old approvers: key is
// refused, and how to move to operators with roles.
const ApproversMigration = "replaced by operators with roles: list each person under operators: " +
	"({name, keys: [\"ssh-ed25519 AAAA…\"], phone, roles: [approver]}; `runbook operator roster-line` prints the entry), " +
	"give a gate group to some only with a role under roles: ({approve: [oncall]}), then delete approvers: (docs/security.md)"

// checkAuthz is Check's part for the roster: what authz.Compile refuses
// (names, roles, keys, one key one person), reported under its field path,
// and the old approvers key.
func (c *Config) checkAuthz(add func(field, format string, args ...any)) {
	if c.Approvers != nil {
		add("approvers", "%s", ApproversMigration)
	}
	for i, o := range c.Operators {
		if o.Phone != "" && !e164.MatchString(o.Phone) {
			add(fmt.Sprintf("operators[%d].phone", i), "%q is not an E.164 number like +15551234567", o.Phone)
		}
	}
	if c.Authz.MaxAge < 0 {
		add("authz.max_age", "cannot be negative")
	}
	// The rules are authz's (one owner): compile the roster as the worker
	// will and report its first refusal.
	if _, err := authz.Compile(authz.Policy{Operators: c.AuthzOperators(), Roles: c.Roles}); err != nil {
		field, msg, ok := strings.Cut(err.Error(), ": ")
		if !ok {
			field, msg = "operators", err.Error()
		}
		add(field, "%s", msg)
	}
}

// checkAuthzFiles is CheckFiles' part: every TOTP secret and the engine key
// are readable, well formed and private (0600), as the worker reads them.
func (c *Config) checkAuthzFiles() []Problem {
	var ps []Problem
	for i, o := range c.Operators {
		if o.TOTPFile == "" {
			continue
		}
		if _, err := ReadTOTPFile(o.TOTPFile); err != nil {
			ps = append(ps, Problem{Field: fmt.Sprintf("operators[%d].totp_file", i), Message: err.Error()})
		}
	}
	if f := c.EngineKeyFile; f != "" {
		if err := privateFile(f); err != nil {
			ps = append(ps, Problem{Field: "engine_key_file", Message: err.Error()})
		} else if _, err := operatorkey.Load(f); err != nil {
			ps = append(ps, Problem{Field: "engine_key_file", Message: err.Error()})
		}
	}
	return ps
}

// ReadTOTPFile reads a base32 TOTP secret from a private (0600) file.
func ReadTOTPFile(path string) ([]byte, error) {
	if err := privateFile(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	secret, err := authz.DecodeTOTPSecret(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return secret, nil
}

// privateFile refuses a secret file others can read: a TOTP secret or a
// private key readable by the group is a second factor shared with it.
func privateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is mode %04o: a secret file must be readable by its owner only (chmod 600)", path, perm)
	}
	return nil
}
