package main

import (
	"context"
	"encoding/base32"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// authzLab is one `runbook dev` (its own process) whose roster is the
// dev-provisioned admin plus the test operators of a config file, with
// test runbooks registered from a configured directory.
type authzLab struct {
	t    *testing.T
	home string
	c    cli
	dev  *devProcess
	keys map[string]string // operator → private key file
	totp map[string][]byte // operator → TOTP secret
}

// The test operators. mallory has a key but is not in the roster.
var labRoster = []struct {
	name  string
	roles []string
	totp  bool
}{
	{"alice", []string{"responder", "approver"}, true},
	{"bob", []string{"approver"}, true},
	{"rita", []string{"responder"}, false},
	{"aud", []string{"auditor"}, false},
}

const labRunbooks = `
- file: authz-two.yaml
  src: |
    name: authz-two
    version: "1"
    inputs:
      - name: bot
        type: string
        default: b
    steps:
      - id: two
        approval:
          group: security
          message: "two people, please"
          require: 2
          timeout: 10m
          on_timeout: abort
      - id: done
        action: notify.console
        with:
          message: "two approved"
- file: authz-totp.yaml
  src: |
    name: authz-totp
    version: "1"
    inputs:
      - name: bot
        type: string
        default: b
    steps:
      - id: mfa
        approval:
          group: oncall
          message: "with your authenticator"
          second_factor: totp
          timeout: 10m
          on_timeout: abort
      - id: done
        action: notify.console
        with:
          message: "totp approved"
- file: authz-sms.yaml
  src: |
    name: authz-sms
    version: "1"
    inputs:
      - name: bot
        type: string
        default: b
    steps:
      - id: sms
        approval:
          group: oncall
          message: "with the texted code"
          second_factor: sms
          timeout: 10m
          on_timeout: abort
      - id: done
        action: notify.console
        with:
          message: "sms approved"
`

func startAuthzLab(t *testing.T) *authzLab {
	t.Helper()
	home := t.TempDir()
	lab := &authzLab{t: t, home: home, keys: map[string]string{}, totp: map[string][]byte{}}
	keyDir := filepath.Join(t.TempDir(), "keys")
	var cfg strings.Builder
	rbDir := filepath.Join(t.TempDir(), "runbooks")
	if err := os.MkdirAll(rbDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeLabRunbooks(t, rbDir)
	fmt.Fprintf(&cfg, "runbooks:\n  dirs: [%q]\noperators:\n", rbDir)
	for _, op := range append(labRoster, struct {
		name  string
		roles []string
		totp  bool
	}{"mallory", nil, false}) {
		path := filepath.Join(keyDir, op.name)
		s, err := operatorkey.Generate(path, op.name)
		if err != nil {
			t.Fatal(err)
		}
		lab.keys[op.name] = path
		if op.roles == nil {
			continue // mallory: a key, no roster entry
		}
		fmt.Fprintf(&cfg, "  - name: %s\n    keys: [%q]\n    roles: [%s]\n", op.name,
			operatorkey.AuthorizedKey(s.PublicKey(), op.name), strings.Join(op.roles, ", "))
		if op.name == "alice" {
			fmt.Fprintf(&cfg, "    phone: \"+15550000001\"\n")
		}
		if op.totp {
			secret := []byte(op.name + "-totp-secret-0123456789")
			f := filepath.Join(keyDir, op.name+".totp")
			if err := os.WriteFile(f, []byte(base32.StdEncoding.EncodeToString(secret)), 0o600); err != nil {
				t.Fatal(err)
			}
			lab.totp[op.name] = secret
			fmt.Fprintf(&cfg, "    totp_file: %q\n", f)
		}
	}
	cfgFile := filepath.Join(t.TempDir(), "runbook.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// The dev operator's name comes from $USER; the CLI finds the config
	// (and so the roster and the runbook directory) through RUNBOOK_CONFIG.
	t.Setenv("USER", "lab-admin")
	t.Setenv("RUNBOOK_CONFIG", cfgFile)
	lab.dev = startDevProcess(t, home, freePort(t), freePort(t))
	lab.c = cli{t: t, home: home}
	lab.keys["lab-admin"] = filepath.Join(home, "operator", "id_ed25519")
	return lab
}

func writeLabRunbooks(t *testing.T, dir string) {
	t.Helper()
	// A tiny splitter for labRunbooks: "- file: NAME" then an indented src.
	var name string
	var body strings.Builder
	flush := func() {
		if name != "" {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body.String()), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		body.Reset()
	}
	for _, line := range strings.Split(labRunbooks, "\n") {
		switch {
		case strings.HasPrefix(line, "- file: "):
			flush()
			name = strings.TrimPrefix(line, "- file: ")
		case strings.HasPrefix(line, "  src: |"):
		case strings.HasPrefix(line, "    "):
			body.WriteString(strings.TrimPrefix(line, "    ") + "\n")
		}
	}
	flush()
}

// as runs the CLI signing with op's key.
func (l *authzLab) as(op string, args ...string) cliResult {
	l.t.Helper()
	return l.c.run(append([]string{"--key", l.keys[op]}, args...)...)
}

// totpCode is op's TOTP code for time t.
func (l *authzLab) totpCode(op string, t time.Time) string {
	return authz.TOTPCode(l.totp[op], authz.TOTPCounter(t), authz.TOTPDigits)
}

// exec starts runbook as op under incident id and waits for its first gate.
func (l *authzLab) execAtGate(op, runbook, id, gate string) workflows.IncidentState {
	l.t.Helper()
	if r := l.as(op, "exec", runbook, "--id", id); r.code != 0 {
		l.t.Fatalf("exec %s as %s: %d %s%s\n--- dev ---\n%s", runbook, op, r.code, r.stdout, r.stderr, l.dev.out.String())
	}
	return l.c.waitFor(id, "gate "+gate, func(st workflows.IncidentState) bool {
		return stepByID(st, gate).Status == workflows.StatusWaiting || st.EndedAt != nil
	})
}

// refused asserts r failed with exit 1, the CLI's refusal format and a
// reason naming the problem.
func refusedWith(t *testing.T, r cliResult, verb, id, reason string) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("%s %s: exit %d, want 1 (refused)\nstdout %s\nstderr %s", verb, id, r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, verb+" "+id+" refused: ") || !strings.Contains(r.stderr, reason) {
		t.Fatalf("%s %s: refusal %q does not say %q", verb, id, strings.TrimSpace(r.stderr), reason)
	}
}

// recorded asserts the refusal is on record: an authz.refused audit
// record of the incident, or a refusal in its state.
func (l *authzLab) recorded(t *testing.T, id, reason string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var seen []string
	for time.Now().Before(deadline) {
		seen = seen[:0]
		if st, err := l.c.state(id); err == nil {
			for _, rf := range st.Refusals {
				if strings.Contains(rf.Reason, reason) {
					return
				}
				seen = append(seen, "state: "+rf.Reason)
			}
		}
		r := l.c.run("audit", id, "-o", "json")
		if r.code == 0 {
			recs, err := audit.Import(strings.NewReader(r.stdout))
			if err == nil {
				for _, rec := range recs {
					if rec.Kind == audit.AuthzRefused {
						if strings.Contains(rec.Attr("reason"), reason) {
							return
						}
						seen = append(seen, "audit: "+rec.Attr("reason"))
					}
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Errorf("incident %s: refusal %q is not recorded (audit authz.refused or state); recorded: %q", id, reason, seen)
}

// client is a Temporal client as any process that reaches Temporal has
// one: through the dev's endpoints, with the payload codec (the payload
// key protects secrets, not authority).
func (l *authzLab) client() client.Client {
	l.t.Helper()
	g := &globals{home: l.home, stdout: os.Stdout, stderr: os.Stderr}
	c, err := g.dialTemporal(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(c.Close)
	return c
}

// runID is the incident's current run.
func (l *authzLab) runID(c client.Client, id string) string {
	l.t.Helper()
	d, err := c.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		l.t.Fatal(err)
	}
	return d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
}

// signAs signs st with op's key (the test's own statements: replayed,
// expired, for another incident).
func (l *authzLab) signAs(op string, st authz.Statement) *authz.Signed {
	l.t.Helper()
	s, err := operatorkey.Load(l.keys[op])
	if err != nil {
		l.t.Fatal(err)
	}
	st.Operator = op
	if st.IssuedAt.IsZero() {
		st.IssuedAt = time.Now().UTC()
		st.Expires = st.IssuedAt.Add(5 * time.Minute)
	}
	sg, err := operatorkey.Sign(s, st)
	if err != nil {
		l.t.Fatal(err)
	}
	return &sg
}

// update sends an Update straight through the SDK and returns its error.
func sendDecision(c client.Client, id, run, name string, d workflows.Decision) error {
	h, err := c.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: id, RunID: run, UpdateName: name, Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(context.Background(), nil)
	}
	return err
}

func wantErr(t *testing.T, what string, err error, reason string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), reason) {
		t.Fatalf("%s: got %v, want a refusal saying %q", what, err, reason)
	}
}

// Given `runbook dev` with a roster (the dev admin; alice responder+approver
// with TOTP; bob approver with TOTP; rita responder; aud auditor) and mallory
// holding a key that is in no roster,
// When each attempt of the table is made against running incidents,
// Then every one is refused with a reason that names the problem and is on
// record, and the same actions by authorized operators succeed, with status
// showing who (name and key fingerprint).
func TestE2E_AuthzAttempts(t *testing.T) {
	lab := startAuthzLab(t)
	c := lab.c

	t.Run("exec", func(t *testing.T) {
		// Given a non-member and an auditor; When they start an incident;
		// Then it fails closed before its first step, refusal recorded.
		for _, tc := range []struct{ op, id, reason string }{
			{"mallory", "authz-exec-mallory", `"mallory" is not in the roster`},
			{"aud", "authz-exec-aud", "no role of aud (auditor) may exec runbook demo-approval"},
		} {
			refusedWith(t, lab.as(tc.op, "exec", "demo-approval", "--id", tc.id), "exec", tc.id, tc.reason)
			st := c.waitFor(tc.id, "the refused start to end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
			if st.Status != workflows.StatusFailed || !strings.Contains(st.Error, tc.reason) {
				t.Errorf("exec by %s: ended %s %q, want failed: %s", tc.op, st.Status, st.Error, tc.reason)
			}
			if s := stepByID(st, "announce"); s.Status == workflows.StatusSucceeded {
				t.Errorf("exec by %s ran a step", tc.op)
			}
			lab.recorded(t, tc.id, tc.reason)
		}
	})

	t.Run("adhoc", func(t *testing.T) {
		// Given a runbook file the engine does not know;
		file := filepath.Join(t.TempDir(), "custom.yaml")
		src, err := os.ReadFile(filepath.Join("..", "..", "runbooks", "library", "demo-approval.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// A changed message: a different definition, so no registered hash.
		custom := strings.Replace(string(src), "Finish the demo incident", "Finish the custom incident", 1)
		if custom == string(src) {
			t.Fatal("demo-approval changed: pick another edit")
		}
		if err := os.WriteFile(file, []byte(custom), 0o600); err != nil {
			t.Fatal(err)
		}
		// When a responder without adhoc runs it, Then it is refused.
		const id = "authz-adhoc-rita"
		const reason = "needs the adhoc permission"
		refusedWith(t, lab.as("rita", "exec", file, "--id", id), "exec", id, reason)
		st := c.waitFor(id, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
		if st.Status != workflows.StatusFailed || !strings.Contains(st.Error, reason) {
			t.Errorf("ad-hoc exec by rita: %s %q", st.Status, st.Error)
		}
		lab.recorded(t, id, reason)
		// When the admin (adhoc) runs it, Then it runs, recorded as ad hoc.
		st = lab.execAtGate("lab-admin", file, "authz-adhoc-admin", "gate")
		if v := st.StartedByVerified; v == nil || v.Operator != "lab-admin" || !v.Adhoc {
			t.Errorf("ad-hoc start by the admin: started_by_verified %+v", v)
		}
	})

	const id = "authz-main"
	st := lab.execAtGate("alice", "demo-approval", id, "gate")
	t.Run("started by, verified", func(t *testing.T) {
		v := st.StartedByVerified
		if v == nil || v.Operator != "alice" || !strings.HasPrefix(v.Fingerprint, "SHA256:") {
			t.Fatalf("started_by_verified = %+v", v)
		}
	})

	t.Run("decisions by the wrong people", func(t *testing.T) {
		for _, tc := range []struct {
			name, op, verb, as, reason string
		}{
			{"approve by a non-member", "aud", "approve", "", `aud is not an approver of group "oncall"`},
			{"deny by a non-member", "rita", "deny", "", `rita is not an approver of group "oncall"`},
			{"abort by a non-member", "bob", "abort", "", "no role of bob (approver) may abort"},
			{"--as naming someone else", "rita", "approve", "alice", "signed with rita's key"},
			{"a key not in the roster", "mallory", "approve", "", `"mallory" is not in the roster`},
			{"a key not in the roster, --as a member", "mallory", "approve", "alice", "is not one of alice's keys in the roster"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				args := []string{tc.verb, id}
				if tc.as != "" {
					args = append(args, "--as", tc.as)
				}
				refusedWith(t, lab.as(tc.op, args...), tc.verb, id, tc.reason)
				lab.recorded(t, id, tc.reason)
			})
		}
		if now, _ := c.state(id); stepByID(now, "gate").Status != workflows.StatusWaiting || now.EndedAt != nil {
			t.Fatalf("a refused decision changed the incident: %s", summary(now))
		}
	})

	t.Run("statements that do not fit", func(t *testing.T) {
		tc := lab.client()
		run := lab.runID(tc, id)
		base := authz.Statement{Verb: authz.VerbApprove, Incident: id, Run: run, Step: "gate"}

		// An unsigned Update sent straight to Temporal.
		err := sendDecision(tc, id, run, workflows.UpdateApprove, workflows.Decision{Step: "gate", Identity: "alice"})
		wantErr(t, "unsigned update", err, "not signed")
		lab.recorded(t, id, "not signed")

		// Expired.
		old := base
		old.IssuedAt, old.Expires = time.Now().Add(-9*time.Minute).UTC(), time.Now().Add(-4*time.Minute).UTC()
		err = sendDecision(tc, id, run, workflows.UpdateApprove, workflows.Decision{Step: "gate", Identity: "alice", Signed: lab.signAs("alice", old)})
		wantErr(t, "expired statement", err, "expired at")
		lab.recorded(t, id, "expired at")

		// For another incident.
		other := base
		other.Incident = "authz-exec-aud"
		err = sendDecision(tc, id, run, workflows.UpdateApprove, workflows.Decision{Step: "gate", Identity: "alice", Signed: lab.signAs("alice", other)})
		wantErr(t, "other incident's statement", err, `the statement's incident is "authz-exec-aud", this is "authz-main"`)
		lab.recorded(t, id, `the statement's incident is "authz-exec-aud"`)

		// A deny statement sent as an approve.
		deny := base
		deny.Verb = authz.VerbDeny
		err = sendDecision(tc, id, run, workflows.UpdateApprove, workflows.Decision{Step: "gate", Identity: "alice", Signed: lab.signAs("alice", deny)})
		wantErr(t, "deny statement as approve", err, `the statement is for "deny", not "approve"`)
	})

	t.Run("authorized approve, then the same statement replayed", func(t *testing.T) {
		tc := lab.client()
		run := lab.runID(tc, id)
		signed := lab.signAs("alice", authz.Statement{Verb: authz.VerbApprove, Incident: id, Run: run, Step: "gate", Comment: "host checked"})
		d := workflows.Decision{Step: "gate", Identity: "alice", Comment: "host checked", Signed: signed}
		if err := sendDecision(tc, id, run, workflows.UpdateApprove, d); err != nil {
			t.Fatalf("alice's approve: %v", err)
		}
		final := c.waitFor(id, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
		if final.Status != workflows.StatusSucceeded {
			t.Fatalf("ended %s: %s", final.Status, summary(final))
		}
		gate := stepByID(final, "gate")
		if len(gate.Approvals) != 1 || gate.Approvals[0].Operator != "alice" || !strings.Contains(gate.DecidedBy, "alice (SHA256:") {
			t.Errorf("gate approvals %+v decided_by %q", gate.Approvals, gate.DecidedBy)
		}
		if r := c.run("status", id); !strings.Contains(r.stdout, "by alice (SHA256:") {
			t.Errorf("status does not show who approved with fingerprint:\n%s", r.stdout)
		}
		// Replayed on a fresh run of the same incident id (another gate
		// waits): bound to run 1, refused.
		lab.execAtGate("alice", "demo-approval", id, "gate")
		run2 := lab.runID(tc, id)
		err := sendDecision(tc, id, run2, workflows.UpdateApprove, d)
		wantErr(t, "replayed statement", err, fmt.Sprintf(`the statement's run is %q`, run))
		lab.recorded(t, id, "the statement's run is")
		// And the deny / abort by authorized operators succeed.
		if r := lab.as("bob", "deny", id, "-m", "not today"); r.code != 0 {
			t.Fatalf("bob's deny: %d %s", r.code, r.stderr)
		}
		denied := c.waitFor(id, "denied", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
		if denied.Status != workflows.StatusDenied || !strings.Contains(stepByID(denied, "gate").DecidedBy, "bob (SHA256:") {
			t.Errorf("deny: %s decided_by %q", denied.Status, stepByID(denied, "gate").DecidedBy)
		}
	})

	t.Run("abort by a responder", func(t *testing.T) {
		const aid = "authz-abort"
		lab.execAtGate("alice", "demo-approval", aid, "gate")
		if r := lab.as("rita", "abort", aid, "-m", "wrong bot"); r.code != 0 {
			t.Fatalf("rita's abort: %d %s", r.code, r.stderr)
		}
		st := c.waitFor(aid, "aborted", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
		if st.Status != workflows.StatusAborted || st.AbortedByVerified == nil || st.AbortedByVerified.Operator != "rita" {
			t.Errorf("abort: %s aborted_by_verified %+v", st.Status, st.AbortedByVerified)
		}
		if r := c.run("status", aid); !strings.Contains(r.stdout, "aborted   by rita (SHA256:") {
			t.Errorf("status does not show who aborted:\n%s", r.stdout)
		}
	})

	t.Run("require 2: one operator twice", func(t *testing.T) {
		const tid = "authz-two"
		lab.execAtGate("alice", "authz-two", tid, "two")
		tc := lab.client()
		run := lab.runID(tc, tid)
		d := workflows.Decision{Step: "two", Identity: "alice",
			Signed: lab.signAs("alice", authz.Statement{Verb: authz.VerbApprove, Incident: tid, Run: run, Step: "two"})}
		if err := sendDecision(tc, tid, run, workflows.UpdateApprove, d); err != nil {
			t.Fatalf("alice's first approval: %v", err)
		}
		// The very same signed decision again: its nonce is spent.
		wantErr(t, "replayed decision", sendDecision(tc, tid, run, workflows.UpdateApprove, d), "was already used in this run")
		lab.recorded(t, tid, "was already used in this run")
		// A fresh statement from the same person: still one person.
		refusedWith(t, lab.as("alice", "approve", tid), "approve", tid, "alice already approved gate two; it requires 2 different approvers")
		lab.recorded(t, tid, "already approved gate two")
		if st, _ := c.state(tid); stepByID(st, "two").Status != workflows.StatusWaiting {
			t.Fatalf("one person passed a two-person gate: %s", summary(st))
		}
		if r := lab.as("bob", "approve", tid); r.code != 0 {
			t.Fatalf("bob's approval: %d %s", r.code, r.stderr)
		}
		st := c.waitFor(tid, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
		two := stepByID(st, "two")
		if st.Status != workflows.StatusSucceeded || len(two.Approvals) != 2 || two.Approvals[0].Operator != "alice" || two.Approvals[1].Operator != "bob" {
			t.Errorf("two-person gate: %s approvals %+v", st.Status, two.Approvals)
		}
	})

	t.Run("second factor", func(t *testing.T) {
		const a, b = "authz-totp-1", "authz-totp-2"
		lab.execAtGate("alice", "authz-totp", a, "mfa")
		lab.execAtGate("alice", "authz-totp", b, "mfa")
		now := time.Now()
		refusedWith(t, lab.as("alice", "approve", a), "approve", a, "gate mfa needs a second factor (totp): none given")
		lab.recorded(t, a, "none given")
		wrong := lab.totpCode("bob", now) // a real code, of someone else's secret
		if wrong == lab.totpCode("alice", now) {
			wrong = "000000"
		}
		refusedWith(t, lab.as("alice", "approve", a, "--totp", wrong), "approve", a, "wrong or expired TOTP code")
		refusedWith(t, lab.as("alice", "approve", a, "--totp", lab.totpCode("alice", now.Add(-5*time.Minute))), "approve", a, "wrong or expired TOTP code")
		lab.recorded(t, a, "wrong or expired TOTP code")

		code := lab.totpCode("alice", time.Now())
		if r := lab.as("alice", "approve", a, "--totp", code); r.code != 0 {
			t.Fatalf("alice's approval with her code: %d %s", r.code, r.stderr)
		}
		st := c.waitFor(a, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
		if g := stepByID(st, "mfa"); st.Status != workflows.StatusSucceeded || len(g.Approvals) != 1 || g.Approvals[0].Factor != authz.FactorTOTP {
			t.Errorf("totp gate: %s approvals %+v", st.Status, g.Approvals)
		}
		if r := c.run("status", a); !strings.Contains(r.stdout, "totp)") {
			t.Errorf("status does not show the factor:\n%s", r.stdout)
		}
		// The same code again, on another incident: single use.
		refusedWith(t, lab.as("alice", "approve", b, "--totp", code), "approve", b, "already used")
		lab.recorded(t, b, "already used")
	})

	t.Run("sms second factor", func(t *testing.T) {
		const a, b = "authz-sms-1", "authz-sms-2"
		lab.execAtGate("alice", "authz-sms", a, "sms")
		lab.execAtGate("alice", "authz-sms", b, "sms")
		code := lab.textedCode(a, "sms")
		other := lab.textedCode(b, "sms")
		if code == other {
			t.Fatalf("two runs got the same SMS code %s", code)
		}
		refusedWith(t, lab.as("alice", "approve", a, "--sms-code", other), "approve", a, "wrong SMS code")
		lab.recorded(t, a, "wrong SMS code")
		refusedWith(t, lab.as("bob", "approve", a, "--sms-code", code), "approve", a, "wrong SMS code")
		if r := lab.as("alice", "approve", a, "--sms-code", code); r.code != 0 {
			t.Fatalf("alice's approval with her texted code: %d %s", r.code, r.stderr)
		}
		st := c.waitFor(a, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
		if g := stepByID(st, "sms"); st.Status != workflows.StatusSucceeded || len(g.Approvals) != 1 || g.Approvals[0].Factor != authz.FactorSMS {
			t.Errorf("sms gate: %s approvals %+v", st.Status, g.Approvals)
		}
	})
}

// textedCode is the SMS code the gate texted alice (the dev SMS sink
// prints every text).
func (l *authzLab) textedCode(id, gate string) string {
	l.t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta("runbook approve "+id+" --step "+gate+" --sms-code ") + `([A-Z0-9]{6})`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(l.dev.out.String()); m != nil {
			return m[1]
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.t.Fatalf("no SMS code texted for %s %s; dev output:\n%s", id, gate, l.dev.out.String())
	return ""
}
