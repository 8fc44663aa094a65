package main

import (
	"bytes"
	"context"
	"encoding/base32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// Given no key, When keygen runs twice, Then the first makes a pair and the
// second refuses to overwrite it; roster-line prints an entry the worker's
// own policy check accepts; and `operator` says who the key is.
func TestOperatorKeygenRosterLineWhoami(t *testing.T) {
	home := t.TempDir()
	key := filepath.Join(home, "alice_ed25519")
	if code, _, errs := runCLI(t, "--home", home, "operator", "keygen", "--out", key, "--name", "alice"); code != 0 {
		t.Fatalf("keygen: %d %s", code, errs)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v", fi, err)
	}
	if code, _, errs := runCLI(t, "--home", home, "operator", "keygen", "--out", key); code == 0 || !strings.Contains(errs, "never overwrites") {
		t.Fatalf("second keygen: %d %s", code, errs)
	}
	code, out, errs := runCLI(t, "--home", home, "--key", key, "operator", "roster-line", "--roles", "responder,approver", "--phone", "+15550001111")
	if code != 0 {
		t.Fatalf("roster-line: %d %s", code, errs)
	}
	if strings.Contains(out, "PRIVATE") {
		t.Fatal("roster-line printed private key material")
	}
	var ops []authz.Operator
	if err := yaml.Unmarshal([]byte(out), &ops); err != nil || len(ops) != 1 {
		t.Fatalf("roster-line is not one YAML operator: %v\n%s", err, out)
	}
	if _, err := authz.Compile(authz.Policy{Operators: ops}); err != nil || ops[0].Name != "alice" || ops[0].Phone != "+15550001111" {
		t.Fatalf("roster entry %+v: %v", ops[0], err)
	}

	// Then: with the entry in a config, `operator` names the roster entry.
	cfg := filepath.Join(home, "runbook.yaml")
	b, _ := yaml.Marshal(map[string]any{"operators": ops})
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	op, err := (&globals{config: cfg, keyFile: key, home: home}).operatorID()
	if err != nil {
		t.Fatal(err)
	}
	if op.Name != "alice" || op.NameFrom != "roster" || op.Entry == nil {
		t.Fatalf("operatorID = %+v", op)
	}
	code, out, errs = runCLI(t, "--home", home, "--key", key, "operator")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "SHA256:") {
		t.Fatalf("operator: %d\n%s%s", code, out, errs)
	}

	// --as only changes the claim; the worker's check refuses it.
	op2, err := (&globals{config: cfg, keyFile: key, home: home, identity: "bob"}).operatorID()
	if err != nil {
		t.Fatal(err)
	}
	sg, err := op2.sign(authz.Statement{Verb: authz.VerbAbort, Incident: "i", Run: "r"})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := authz.Compile(authz.Policy{Operators: append(ops, authz.Operator{Name: "bob", Keys: []string{otherKey(t)}, Roles: []string{"admin"}})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pol.Authorize(authz.Request{Verb: authz.VerbAbort, Incident: "i", Run: "r", Now: time.Now(), Signed: sg}, nil)
	if err == nil || !strings.Contains(err.Error(), "alice's key") {
		t.Fatalf("--as bob with alice's key: %v", err)
	}
}

func otherKey(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "k")
	code, _, errs := runCLI(t, "--home", t.TempDir(), "operator", "keygen", "--out", p, "--name", "bob")
	if code != 0 {
		t.Fatal(errs)
	}
	b, _ := os.ReadFile(p + ".pub")
	return strings.TrimSpace(string(b))
}

// Given a TOTP secret file, `operator totp` prints the code authz accepts
// now, and never the secret.
func TestOperatorTOTP(t *testing.T) {
	home := t.TempDir()
	secret := []byte("0123456789abcdefghij")
	enc := base32.StdEncoding.EncodeToString(secret)
	if err := os.MkdirAll(filepath.Join(home, "operator"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "operator", "totp"), []byte(enc+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "--home", home, "operator", "totp")
	if code != 0 {
		t.Fatalf("totp: %d %s", code, errs)
	}
	if strings.Contains(out+errs, enc) {
		t.Fatal("printed the secret")
	}
	if _, ok := authz.CheckTOTP(secret, strings.TrimSpace(out), time.Now()); !ok {
		t.Fatalf("code %q is not current", out)
	}
	if !strings.Contains(errs, "lab") {
		t.Errorf("does not say it is for the lab: %s", errs)
	}
}

// Given two gates waiting, an empty --step is refused with their names; a
// hold gate answers to its step's name.
func TestWaitingGate(t *testing.T) {
	st := waitingState("a", "b.hold")
	if _, err := waitingGate(st, ""); err == nil || !strings.Contains(err.Error(), "a, b.hold") {
		t.Fatalf("two waiting: %v", err)
	}
	if g, err := waitingGate(st, "b"); err != nil || g != "b.hold" {
		t.Fatalf("--step b: %q %v", g, err)
	}
	if g, err := waitingGate(waitingState("gate"), ""); err != nil || g != "gate" {
		t.Fatalf("one waiting: %q %v", g, err)
	}
	if _, err := waitingGate(waitingState(), ""); err == nil || !strings.Contains(err.Error(), "no approval gate") {
		t.Fatalf("none waiting: %v", err)
	}
}

func waitingState(ids ...string) workflows.IncidentState {
	st := workflows.IncidentState{Status: workflows.StatusRunning, Steps: []workflows.StepState{{ID: "first", Status: workflows.StatusSucceeded}}}
	for _, id := range ids {
		st.Steps = append(st.Steps, workflows.StepState{ID: id, Status: workflows.StatusWaiting})
	}
	return st
}
