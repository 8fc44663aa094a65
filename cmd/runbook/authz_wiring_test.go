package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// approveAs is a signed approve of gate s of incident i, run r.
func approveAs(t *testing.T, k ssh.Signer, name string, now time.Time) authz.Request {
	t.Helper()
	sg, err := operatorkey.Sign(k, authz.Statement{Verb: authz.VerbApprove, Operator: name, Incident: "i", Run: "r", Step: "s",
		IssuedAt: now, Expires: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return authz.Request{Verb: authz.VerbApprove, Incident: "i", Run: "r", Step: "s", Group: "oncall", Now: now, Signed: &sg}
}

func newKey(t *testing.T, path string) (ssh.Signer, string) {
	t.Helper()
	k, err := operatorkey.Generate(path, "")
	if err != nil {
		t.Fatal(err)
	}
	return k, operatorkey.AuthorizedKey(k.PublicKey(), "")
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// Given a fresh home, when runbook dev provisions its operator and engine
// key twice, then the second start finds the same keys and secret (0600),
// and the operator (admin) can sign what the policy accepts.
func TestDevProvisioningIsIdempotentAndPrivate(t *testing.T) {
	home := t.TempDir()
	t.Setenv("USER", "Dana.Smith")
	build := func() *authzRuntime {
		rt, err := buildAuthz(authzSource{cfg: &config.Config{}, home: home, dev: true, smsCodeKey: bytes.Repeat([]byte{7}, 32)})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	first := build()
	keyBytes, _ := os.ReadFile(devOperatorKey(home))
	totpBytes, _ := os.ReadFile(devOperatorTOTP(home))
	second := build()
	if again, _ := os.ReadFile(devOperatorKey(home)); !bytes.Equal(again, keyBytes) {
		t.Fatal("the operator key changed on the second start")
	}
	if again, _ := os.ReadFile(devOperatorTOTP(home)); !bytes.Equal(again, totpBytes) {
		t.Fatal("the TOTP secret changed on the second start")
	}
	if string(first.engine.PublicKey().Marshal()) != string(second.engine.PublicKey().Marshal()) {
		t.Fatal("the engine key changed on the second start")
	}
	for _, p := range []string{devOperatorKey(home), devOperatorTOTP(home), devEngineKey(home)} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s is %04o, want 0600", p, m)
		}
	}
	if _, err := os.Stat(devOperatorKey(home) + ".pub"); err != nil {
		t.Errorf("no public key beside the operator key: %v", err)
	}
	op := second.devOp.op
	if op.Name != "dana.smith" || len(op.Roles) != 1 || op.Roles[0] != authz.RoleAdmin {
		t.Errorf("dev operator %+v", op)
	}
	if s := second.devOp.summary(); !strings.HasPrefix(s, "operator dana.smith (SHA256:") || !strings.Contains(s, "roles admin — key "+devOperatorKey(home)) {
		t.Errorf("summary %q", s)
	}
	if sec, ok := second.live.Secrets().TOTPSecret("dana.smith"); !ok || len(sec) != 20 {
		t.Errorf("TOTP secret of the dev operator: %d bytes, %v", len(sec), ok)
	}
	k, err := operatorkey.Load(devOperatorKey(home))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := second.live.Authorize(approveAs(t, k, "dana.smith", time.Now())); err != nil || v.Operator != "dana.smith" {
		t.Fatalf("dev operator's approve: %+v %v", v, err)
	}
}

func TestDevOperatorName(t *testing.T) {
	for in, want := range map[string]string{"alice": "alice", "Bob": "bob", "j doe": "j-doe", "": "operator", "42": "operator",
		"engine": "operator", "_svc": "svc", "ünï": "n", strings.Repeat("a", 80): strings.Repeat("a", 64)} {
		if got := devOperatorName(in); got != want {
			t.Errorf("devOperatorName(%q) = %q, want %q", in, got, want)
		}
	}
}

// The worker registers every shipped runbook and every file of its
// runbook directories by the definition digest a start computes (what exec
// sends: the parsed definition and its resolved actions); an edited
// definition under the same name is ad hoc.
func TestBuildAuthzRegistersRunbooksByDefinition(t *testing.T) {
	dir := t.TempDir()
	src := []byte("name: local-book\ndescription: local\nsteps:\n  - id: hi\n    action: notify.console\n    with: {message: hi}\n")
	if err := os.WriteFile(filepath.Join(dir, "local-book.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	rt, err := buildAuthz(authzSource{cfg: &config.Config{}, home: t.TempDir(), dev: true, dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	pol := rt.live.Policy()
	shipped := runbooks.Shipped()
	if len(shipped) == 0 {
		t.Fatal("no shipped runbooks")
	}
	g := &globals{runbooks: []string{dir}}
	definition := func(ref string) (string, *runbooks.Runbook) {
		t.Helper()
		lr, err := g.loadRunbook(ref) // as exec loads it
		if err != nil {
			t.Fatal(err)
		}
		actions, err := resolveActions(lr.Runbook)
		if err != nil {
			t.Fatal(err)
		}
		in := workflows.IncidentInput{Runbook: *lr.Runbook, Actions: actions}
		return workflows.StartStatement(in).Definition, lr.Runbook
	}
	for _, s := range shipped {
		d, rb := definition(s.Name)
		if !pol.Registered(rb.Name, d) {
			t.Errorf("shipped %s (%s) is not registered", rb.Name, d)
		}
	}
	d, rb := definition("local-book")
	if !pol.Registered("local-book", d) {
		t.Error("the runbook directory's file, as exec starts it, is not registered")
	}
	edited := *rb
	edited.Steps = append([]runbooks.Step(nil), rb.Steps...)
	edited.Steps[0].With = map[string]any{"message": "something else"}
	actions, err := resolveActions(&edited)
	if err != nil {
		t.Fatal(err)
	}
	if pol.Registered("local-book", runbooks.DefinitionDigest(edited, actions)) {
		t.Error("an edited definition counts as registered")
	}
}

// A worker config without engine key is refused when the consumer runs;
// one whose engine key others can read is refused too.
func TestEngineKeyRequiredAndPrivate(t *testing.T) {
	_, err := buildAuthz(authzSource{cfg: &config.Config{}, home: t.TempDir(), needEngineKey: true})
	if err == nil || !strings.Contains(err.Error(), "engine_key_file is required") {
		t.Fatalf("no engine key: %v", err)
	}
	key := filepath.Join(t.TempDir(), "engine-key")
	if _, err := provisionEngineKey(key); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = buildAuthz(authzSource{cfg: &config.Config{EngineKeyFile: key}, home: t.TempDir(), needEngineKey: true})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable engine key: %v", err)
	}
}

// Given a worker whose config lists alice, when the file is edited to list
// bob instead and the worker gets SIGHUP, then alice's signed approve is
// refused and bob's accepted; a broken edit keeps the previous roster.
func TestSIGHUPReloadSwapsTheRoster(t *testing.T) {
	dir := t.TempDir()
	aliceK, aliceLine := newKey(t, filepath.Join(dir, "alice"))
	bobK, bobLine := newKey(t, filepath.Join(dir, "bob"))
	file := filepath.Join(dir, "runbook.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("operators: [{name: alice, keys: [\"" + aliceLine + "\"], roles: [approver]}]\n")
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := buildAuthz(authzSource{file: file, cfg: cfg, home: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.live.Authorize(approveAs(t, aliceK, "alice", time.Now())); err != nil {
		t.Fatalf("alice before the reload: %v", err)
	}
	out := &lockedBuffer{}
	stop := rt.watchReload(out)
	defer stop()

	write("operators: [{name: bob, keys: [\"" + bobLine + "\"], roles: [approver]}]\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the roster reloaded", func() bool { return strings.Contains(out.String(), "roster reloaded: 1 operators") })
	if _, err := rt.live.Authorize(approveAs(t, aliceK, "alice", time.Now())); err == nil || !strings.Contains(err.Error(), "not in the roster") {
		t.Fatalf("alice after she was removed: %v", err)
	}
	if _, err := rt.live.Authorize(approveAs(t, bobK, "bob", time.Now())); err != nil {
		t.Fatalf("bob after he was added: %v", err)
	}

	before := rt.live.Policy()
	write("operators: [{name: bob, keys: [\"" + bobLine + "\"], roles: [approvr]}]\n")
	rt.reloadAndLog(out)
	if rt.live.Policy() != before || !strings.Contains(out.String(), "roster reload refused, the previous policy stays") ||
		!strings.Contains(out.String(), `unknown role "approvr"`) {
		t.Fatalf("a bad reload: policy swapped %v, output %q", rt.live.Policy() != before, out.String())
	}
	write("approvers: {oncall: [bob]}\n")
	rt.reloadAndLog(out)
	if rt.live.Policy() != before || !strings.Contains(out.String(), "replaced by operators with roles") {
		t.Fatalf("an approvers reload: output %q", out.String())
	}
}

// fakeAppender records appends; block makes Append wait until released.
type fakeAppender struct {
	mu    sync.Mutex
	recs  []audit.Record
	block chan struct{}
}

func (f *fakeAppender) Append(ctx context.Context, r audit.Record) (audit.Record, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return audit.Record{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, r)
	return r, nil
}

func (f *fakeAppender) records() []audit.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]audit.Record(nil), f.recs...)
}

// A refused attempt becomes an authz.refused record in the incident's
// trail — claimed operator, verb, reason, never the statement — and a
// stuck audit store never blocks the validator: the overflow is counted.
func TestRefusalsAreAuditedWithoutBlocking(t *testing.T) {
	dir := t.TempDir()
	_, aliceLine := newKey(t, filepath.Join(dir, "alice"))
	malloryK, _ := newKey(t, filepath.Join(dir, "mallory"))
	cfg := &config.Config{Operators: []config.Operator{{Operator: authz.Operator{Name: "alice", Keys: []string{aliceLine}, Roles: []string{"approver"}}}}}
	rt, err := buildAuthz(authzSource{cfg: cfg, home: dir})
	if err != nil {
		t.Fatal(err)
	}
	store := &fakeAppender{}
	rt.auditRefusals(store)
	req := approveAs(t, malloryK, "alice", time.Now())
	if _, err := rt.live.Authorize(req); err == nil {
		t.Fatal("mallory's key signing as alice was accepted")
	}
	waitUntil(t, "the refusal is audited", func() bool { return len(store.records()) == 1 })
	rec := store.records()[0]
	if rec.Kind != audit.AuthzRefused || rec.IncidentID != "i" || rec.Run != "r" || rec.Step != "s" || rec.Actor != "alice" ||
		rec.Attrs["verb"] != "approve" || rec.Attrs["operator"] != "alice" || rec.Attrs["group"] != "oncall" ||
		!strings.Contains(rec.Attrs["reason"], "is not one of alice's keys") || !strings.HasPrefix(rec.Key, "authz/refused/") {
		t.Fatalf("record %+v", rec)
	}
	for k, v := range rec.Attrs {
		if strings.Contains(v, req.Signed.Signature) || strings.Contains(v, "BEGIN SSH SIGNATURE") {
			t.Errorf("attr %s holds the signature", k)
		}
	}
	rt.stop()

	stuck := &fakeAppender{block: make(chan struct{})}
	rt.auditRefusals(stuck)
	start := time.Now()
	for range refusalQueue + 50 {
		_, _ = rt.live.Authorize(req)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusals took %s with a stuck audit store", d)
	}
	if n := rt.refusals.dropped.Load(); n < 49 {
		t.Fatalf("dropped %d refusals, want the overflow (≥ 49) counted", n)
	}
	close(stuck.block)
	rt.stop()
}

// `runbook config check` names the file and field of a roster mistake, and
// refuses the old approvers key saying how to migrate.
func TestConfigCheckNamesRosterProblems(t *testing.T) {
	dir := t.TempDir()
	_, line := newKey(t, filepath.Join(dir, "alice"))
	file := filepath.Join(dir, "runbook.yaml")
	src := "allow_insecure: [no_operators]\napprovers: {oncall: [alice]}\noperators: [{name: alice, keys: [\"" + line + "\"], roles: [approvr]}]\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	r := (cli{t: t, home: dir}).run("config", "check", file)
	for _, want := range []string{file + `: operators[0] (alice).roles[0]: unknown role "approvr"`, file + ": approvers: replaced by operators with roles"} {
		if r.code == 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("exit %d, output %q; want %q", r.code, r.stdout, want)
		}
	}
}
