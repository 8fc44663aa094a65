// Package workflowstest lets tests outside package workflows run the real
// interpreter since it verifies who acts: a roster with keys made in a
// temporary directory, the engine's key, and signing of starts and
// decisions exactly as the engine and the CLI sign them. It is for tests
// only (keys live in t.TempDir).
package workflowstest

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// Roster is a live policy for tests: Live is what workflows.Register gets.
type Roster struct {
	t       testing.TB
	dir     string
	Live    *authz.Live
	policy  authz.Policy
	signers map[string]ssh.Signer
}

// New makes a roster with the engine's key and no operators.
func New(t testing.TB) *Roster {
	t.Helper()
	r := &Roster{t: t, dir: t.TempDir(), Live: &authz.Live{}, signers: map[string]ssh.Signer{},
		policy: authz.Policy{Registered: map[string]string{}}}
	r.signers[authz.EngineName] = r.key(authz.EngineName)
	r.policy.EngineKeys = []string{operatorkey.AuthorizedKey(r.signers[authz.EngineName].PublicKey(), "engine")}
	r.apply()
	return r
}

func (r *Roster) key(name string) ssh.Signer {
	r.t.Helper()
	s, err := operatorkey.Generate(filepath.Join(r.dir, name), name+"@test")
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *Roster) apply() {
	r.t.Helper()
	c, err := authz.Compile(r.policy)
	if err != nil {
		r.t.Fatal(err)
	}
	r.Live.Set(c, nil)
}

// Operator adds name with roles (built-in role names) to the roster.
func (r *Roster) Operator(name string, roles ...string) *Roster {
	r.signers[name] = r.key(name)
	r.policy.Operators = append(r.policy.Operators, authz.Operator{Name: name, Roles: roles,
		Keys: []string{operatorkey.AuthorizedKey(r.signers[name].PublicKey(), name)}})
	r.apply()
	return r
}

// Start registers in's runbook with the engine and signs its start (at
// now): the engine's statement for event, fleet and drill triggers.
func (r *Roster) Start(in *workflows.IncidentInput, now time.Time) {
	r.t.Helper()
	st := workflows.StartStatement(*in)
	r.policy.Registered[st.Definition] = in.Runbook.Name
	r.apply()
	st.IssuedAt = now
	in.Authorization = r.Sign(authz.EngineName, st)
}

// Sign signs st as operator as (issued at st.IssuedAt, valid 5 minutes).
func (r *Roster) Sign(as string, st authz.Statement) *authz.Signed {
	r.t.Helper()
	st.Operator = as
	if st.Expires.IsZero() {
		st.Expires = st.IssuedAt.Add(5 * time.Minute)
	}
	sg, err := operatorkey.Sign(r.signers[as], st)
	if err != nil {
		r.t.Fatal(err)
	}
	return &sg
}

// Who is operator name's verified one-line form (no second factor).
func (r *Roster) Who(name string) string {
	return name + " (" + authz.Fingerprint(r.signers[name].PublicKey()) + ")"
}

// Fingerprint is operator name's key fingerprint.
func (r *Roster) Fingerprint(name string) string {
	return authz.Fingerprint(r.signers[name].PublicKey())
}

// TestRunID is the run id of a workflow in the SDK's test environment:
// decisions sent there are signed for it.
const TestRunID = "default-test-run-id"
