package notify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
	"github.com/keyresponse/runbook/runbooks/authz"
)

const dave = "+4915100000004"

type factorSecrets []byte

func (factorSecrets) TOTPSecret(string) ([]byte, bool) { return nil, false }
func (s factorSecrets) SMSCodeKey() []byte             { return s }

var factorKey = factorSecrets("fedcba9876543210fedcba9876543210")

func signer(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// askFixture is notify.ask_approvers over twiliosim and a real operator
// roster: alice and dave approve (with phones), bob only responds, carol
// is an admin without a phone. The webhook relays replies through a
// GateResponder signing with a real engine key.
type askFixture struct {
	sim       *twiliosim.Server
	store     *sms.MemoryStore
	roster    *authz.Compiled
	engine    ssh.Signer
	now       time.Time
	ask       func(context.Context, notify.AskApproversRequest) (notify.AskApproversResult, error)
	decisions []sms.GateDecision
}

func newAskFixture(t *testing.T) *askFixture {
	t.Helper()
	sim, err := twiliosim.Start(twiliosim.Config{AccountSID: sid, AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	client, err := sms.New(sms.Config{Credentials: sms.Credentials{AccountSID: sid, AuthToken: token}, From: twilioNum, BaseURL: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	line := func(s ssh.Signer) string { return operatorkey.AuthorizedKey(s.PublicKey(), "") }
	engine := signer(t)
	roster, err := authz.Compile(authz.Policy{
		Operators: []authz.Operator{
			{Name: "alice", Keys: []string{line(signer(t))}, Phone: alice, Roles: []string{authz.RoleApprover}},
			{Name: "bob", Keys: []string{line(signer(t))}, Phone: bob, Roles: []string{authz.RoleResponder}},
			{Name: "carol", Keys: []string{line(signer(t))}, Roles: []string{authz.RoleAdmin}},
			{Name: "dave", Keys: []string{line(signer(t))}, Phone: dave, Roles: []string{authz.RoleApprover}},
		},
		EngineKeys: []string{line(engine)},
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &askFixture{sim: sim, store: sms.NewMemoryStore(), roster: roster, engine: engine,
		now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	f.ask = notify.AskApprovers(notify.AskDeps{Sender: client, Roster: func() *authz.Compiled { return f.roster },
		Secrets: func() authz.Secrets { return factorKey }, CodeKey: codeKey, Sent: f.store, Acks: f.store,
		Now: func() time.Time { return f.now }})
	return f
}

// webhook is the inbound handler as the engine wires it.
func (f *askFixture) webhook(t *testing.T) string {
	t.Helper()
	ops := func() *authz.Compiled { return f.roster }
	clock := func() time.Time { return f.now }
	resp := sms.GateResponder{Acks: f.store, Decider: deciderFunc(func(d sms.GateDecision) { f.decisions = append(f.decisions, d) }),
		Operators: ops, Sign: func(st authz.Statement) (authz.Signed, error) { return operatorkey.Sign(f.engine, st) }, Now: clock}
	wh, err := sms.NewWebhook(sms.WebhookConfig{AuthToken: token, Operators: ops, Acks: f.store, Responder: resp, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wh)
	t.Cleanup(srv.Close)
	return srv.URL + "/sms/inbound"
}

type deciderFunc func(sms.GateDecision)

func (d deciderFunc) Decide(_ context.Context, g sms.GateDecision) error { d(g); return nil }

func (f *askFixture) reply(t *testing.T, hook, from, body string) string {
	t.Helper()
	r, err := f.sim.SendInbound(context.Background(), hook, twiliosim.Inbound{From: from, To: twilioNum, Body: body})
	if err != nil || r.Status != 200 {
		t.Fatalf("inbound: %v %+v", err, r)
	}
	return r.Body
}

func gate(run string, issued time.Time) notify.AskApproversRequest {
	return notify.AskApproversRequest{Incident: "inc-bot7-breach", Run: run, Gate: "approve_unfreeze", Group: "oncall",
		Message: "unfreeze bot grid-7 after key rotation", IssuedAt: issued}
}

func TestAskApproversTextsEveryApproverWithAPhoneOnce(t *testing.T) {
	f := newAskFixture(t)
	req := gate("run-1", f.now)
	res, err := f.ask(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.sim.Messages()) != 2 || len(f.sim.MessagesTo(bob)) != 0 {
		t.Fatalf("messages %+v", f.sim.Messages())
	}
	aliceCode, _ := sms.OperatorCode(codeKey, "alice", "inc-bot7-breach", "run-1", "approve_unfreeze")
	daveCode, _ := sms.OperatorCode(codeKey, "dave", "inc-bot7-breach", "run-1", "approve_unfreeze")
	want := "inc-bot7-breach waits for your approval at approve_unfreeze: unfreeze bot grid-7 after key rotation. " +
		"Answer: runbook approve inc-bot7-breach --step approve_unfreeze or reply APPROVE " + aliceCode + " / DENY " + aliceCode
	if got := f.sim.MessagesTo(alice)[0].Body; got != want {
		t.Fatalf("alice's text\n got %q\nwant %q", got, want)
	}
	if got := f.sim.MessagesTo(dave)[0].Body; !strings.Contains(got, "APPROVE "+daveCode) || aliceCode == daveCode {
		t.Fatalf("dave's text %q (alice's code %s)", got, aliceCode)
	}
	if len(res.Texted) != 2 || res.Texted[0].Operator != "alice" || res.Texted[1].Operator != "dave" ||
		res.Texted[0].MessageSID != f.sim.MessagesTo(alice)[0].SID || len(res.NoPhone) != 1 || res.NoPhone[0] != "carol" {
		t.Fatalf("result %+v", res)
	}
	b, _ := json.Marshal(res)
	for _, secret := range []string{aliceCode, daveCode, alice, dave} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("result holds %q: %s", secret, b)
		}
	}
	p, ok, _ := f.store.Pending(context.Background(), aliceCode)
	if !ok || p.Operator != "alice" || p.Run != "run-1" || p.Gate != "approve_unfreeze" || !p.ExpiresAt.Equal(f.now.Add(sms.CodeTTL)) {
		t.Fatalf("pending %+v %v", p, ok)
	}

	// A retry (lost completion, worker restart) texts nobody again.
	again, err := f.ask(context.Background(), req)
	if err != nil || len(f.sim.Messages()) != 2 || again.Texted[0].MessageSID != res.Texted[0].MessageSID {
		t.Fatalf("retry: %v, %d messages, %+v", err, len(f.sim.Messages()), again)
	}
}

// A gate with an SMS second factor texts each approver exactly
// authz.SMSFactorCode; the reply from their phone is relayed as an
// engine-signed decision the real authz check accepts. A hold gate says
// what it holds.
func TestAskApproversSMSFactorAnsweredByReply(t *testing.T) {
	f := newAskFixture(t)
	hook := f.webhook(t)
	req := gate("run-1", f.now)
	req.SecondFactor, req.Held, req.Gate = authz.FactorSMS, "revoke_key", "hold_revoke_key"
	if _, err := f.ask(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	code := authz.SMSFactorCode(factorKey, "alice", req.Incident, "run-1", req.Gate, f.now)
	body := f.sim.MessagesTo(alice)[0].Body
	for _, want := range []string{"waits for your approval at hold_revoke_key (held: revoke_key): ",
		"runbook approve inc-bot7-breach --step hold_revoke_key --sms-code " + code, "reply APPROVE " + code + " / DENY " + code} {
		if !strings.Contains(body, want) {
			t.Fatalf("text %q lacks %q", body, want)
		}
	}
	// Dave cannot use alice's code.
	if r := f.reply(t, hook, dave, "APPROVE "+code); !strings.Contains(r, "was not sent to this number") || len(f.decisions) != 0 {
		t.Fatalf("dave with alice's code: %q", r)
	}
	f.now = f.now.Add(2 * time.Minute)
	if r := f.reply(t, hook, alice, "APPROVE "+code); !strings.Contains(r, "Approval "+code+" recorded") {
		t.Fatalf("alice: %q", r)
	}
	if len(f.decisions) != 1 {
		t.Fatalf("decisions %+v", f.decisions)
	}
	d := f.decisions[0]
	v, err := f.roster.Authorize(authz.Request{Verb: authz.VerbApprove, Incident: req.Incident, Run: "run-1", Step: req.Gate,
		Group: "oncall", SecondFactor: authz.FactorSMS, FactorIssuedAt: req.IssuedAt, Now: f.now, Signed: &d.Signed}, factorKey)
	if err != nil || v.Operator != "alice" || v.Via != authz.EngineName || v.Factor != authz.FactorSMSReply {
		t.Fatalf("authz of the relayed reply: %+v %v", v, err)
	}
}

// The bug this fixes: a second run of the same incident id found run 1's
// "already texted" record and reported run 1's message. Now it texts
// again, with a new code.
func TestAskApproversSecondRunTextsAgain(t *testing.T) {
	f := newAskFixture(t)
	r1, err := f.ask(context.Background(), gate("run-1", f.now))
	if err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	r2, err := f.ask(context.Background(), gate("run-2", f.now))
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.sim.MessagesTo(alice)
	if len(msgs) != 2 || r2.Texted[0].MessageSID != msgs[1].SID || r2.Texted[0].MessageSID == r1.Texted[0].MessageSID {
		t.Fatalf("run 2: %+v; alice got %d", r2, len(msgs))
	}
	c1, _ := sms.OperatorCode(codeKey, "alice", "inc-bot7-breach", "run-1", "approve_unfreeze")
	c2, _ := sms.OperatorCode(codeKey, "alice", "inc-bot7-breach", "run-2", "approve_unfreeze")
	if c1 == c2 || !strings.Contains(msgs[1].Body, c2) || strings.Contains(msgs[1].Body, c1) {
		t.Fatalf("codes %s / %s; run 2 text %q", c1, c2, msgs[1].Body)
	}
}

func TestAskApproversExpiredSMSCodeRefused(t *testing.T) {
	f := newAskFixture(t)
	hook := f.webhook(t)
	req := gate("run-1", f.now)
	req.SecondFactor = authz.FactorSMS
	if _, err := f.ask(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	code := authz.SMSFactorCode(factorKey, "alice", req.Incident, "run-1", req.Gate, f.now)
	f.now = f.now.Add(authz.SMSCodeTTL)
	if r := f.reply(t, hook, alice, "APPROVE "+code); !strings.Contains(r, "Code "+code+" expired at 10:15 UTC") ||
		!strings.Contains(r, "runbook approve inc-bot7-breach --step approve_unfreeze") || len(f.decisions) != 0 {
		t.Fatalf("expired: %q; decisions %v", r, f.decisions)
	}
}

func TestAskApproversFailsClearly(t *testing.T) {
	f := newAskFixture(t)
	cases := map[string]struct {
		req  notify.AskApproversRequest
		kind string
		msg  string
	}{
		"sms without issued_at": {req: func() notify.AskApproversRequest {
			r := gate("run-1", time.Time{})
			r.SecondFactor = authz.FactorSMS
			return r
		}(), kind: activities.ErrInvalidParams, msg: "issued_at"},
		"no run": {req: gate("", f.now), kind: activities.ErrInvalidParams, msg: "no run id"},
	}
	for name, c := range cases {
		_, err := f.ask(context.Background(), c.req)
		if activities.ErrorType(err) != c.kind || !nonRetryable(err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The only approvers have no phone: say who.
	f.roster, _ = authz.Compile(authz.Policy{Operators: []authz.Operator{
		{Name: "carol", Keys: []string{operatorkey.AuthorizedKey(signer(t).PublicKey(), "")}, Roles: []string{authz.RoleAdmin}}}})
	if _, err := f.ask(context.Background(), gate("run-1", f.now)); activities.ErrorType(err) != notify.ErrOnCallUnreachable ||
		!strings.Contains(err.Error(), "no approver has a phone in the roster (carol)") {
		t.Errorf("no phones: %v", err)
	}
	f.roster, _ = authz.Compile(authz.Policy{Operators: []authz.Operator{
		{Name: "bob", Keys: []string{operatorkey.AuthorizedKey(signer(t).PublicKey(), "")}, Phone: bob, Roles: []string{authz.RoleResponder}}}})
	if _, err := f.ask(context.Background(), gate("run-1", f.now)); err == nil || !strings.Contains(err.Error(), `group "oncall"): nobody may approve it`) {
		t.Errorf("no approvers: %v", err)
	}
	if len(f.sim.Messages()) != 0 {
		t.Fatal("a failed ask sent a text")
	}
	// Not configured: fails as invalid, texts nobody.
	none := notify.AskApprovers(notify.AskDeps{Sender: nil})
	if _, err := none(context.Background(), gate("run-1", f.now)); activities.ErrorType(err) != activities.ErrInvalidParams {
		t.Errorf("unconfigured: %v", err)
	}
}

// Registered on a worker, the activity takes the run from its own context
// when the request names none (the workflow always names it).
func TestAskApproversRegisteredTakesTheRunOfItsWorkflow(t *testing.T) {
	f := newAskFixture(t)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	client, err := sms.New(sms.Config{Credentials: sms.Credentials{AccountSID: sid, AuthToken: token}, From: twilioNum, BaseURL: f.sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	notify.RegisterAskApprovers(env, notify.AskDeps{Sender: client, Roster: func() *authz.Compiled { return f.roster },
		CodeKey: codeKey, Sent: f.store, Acks: f.store})
	val, err := env.ExecuteActivity(notify.AskApproversActivity, gate("", f.now))
	if err != nil {
		t.Fatal(err)
	}
	var res notify.AskApproversResult
	if err := val.Get(&res); err != nil || len(res.Texted) != 2 {
		t.Fatalf("%v %+v", err, res)
	}
	code := f.sim.MessagesTo(alice)[0].Body
	code = code[strings.LastIndex(code, " ")+1:]
	if p, ok, _ := f.store.Pending(context.Background(), code); !ok || p.Run == "" {
		t.Fatalf("pending %+v %v", p, ok)
	}
}
