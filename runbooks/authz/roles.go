package authz

import (
	"path"
	"slices"
	"sort"
)

// Role is a set of permissions. Exec and Approve list runbook names and
// approval groups; an entry may be a path.Match glob ("fleet-*", "*").
type Role struct {
	Exec     []string `json:"exec,omitempty" yaml:"exec,omitempty"`
	Approve  []string `json:"approve,omitempty" yaml:"approve,omitempty"`
	Abort    bool     `json:"abort,omitempty" yaml:"abort,omitempty"`
	Drill    bool     `json:"drill,omitempty" yaml:"drill,omitempty"`
	Read     bool     `json:"read,omitempty" yaml:"read,omitempty"`
	Adhoc    bool     `json:"adhoc,omitempty" yaml:"adhoc,omitempty"`
	Evidence bool     `json:"evidence,omitempty" yaml:"evidence,omitempty"`
}

// Built-in role names.
const (
	RoleResponder = "responder"
	RoleApprover  = "approver"
	RoleAdmin     = "admin"
	RoleAuditor   = "auditor"
)

// BuiltinRoles are always defined; the configuration may add roles but not
// redefine these (a role named "approver" means the same everywhere).
var BuiltinRoles = map[string]Role{
	// responder: starts registered runbooks, aborts, adds evidence, reads.
	RoleResponder: {Exec: []string{"*"}, Abort: true, Evidence: true, Read: true},
	// approver: answers gates of every group, reads.
	RoleApprover: {Approve: []string{"*"}, Read: true},
	// admin: everything, including drills and ad-hoc runbook files.
	RoleAdmin: {Exec: []string{"*"}, Approve: []string{"*"}, Abort: true, Drill: true, Read: true, Adhoc: true, Evidence: true},
	// auditor: reads the record, acts on nothing.
	RoleAuditor: {Read: true},
}

// BuiltinRoleNames in a fixed order.
func BuiltinRoleNames() []string {
	names := make([]string, 0, len(BuiltinRoles))
	for n := range BuiltinRoles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func matchAny(patterns []string, name string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		ok, err := path.Match(p, name)
		return err == nil && ok
	})
}

// union merges roles into the permissions an operator holds.
func union(roles []Role) Role {
	var u Role
	for _, r := range roles {
		u.Exec = append(u.Exec, r.Exec...)
		u.Approve = append(u.Approve, r.Approve...)
		u.Abort = u.Abort || r.Abort
		u.Drill = u.Drill || r.Drill
		u.Read = u.Read || r.Read
		u.Adhoc = u.Adhoc || r.Adhoc
		u.Evidence = u.Evidence || r.Evidence
	}
	return u
}

// CanExec reports whether the role may start runbook name.
func (r Role) CanExec(name string) bool { return matchAny(r.Exec, name) }

// CanApprove reports whether the role may answer gates of group.
func (r Role) CanApprove(group string) bool { return matchAny(r.Approve, group) }
