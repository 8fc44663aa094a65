package sms_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// decisions is a GateDecider that keeps what it was asked to apply.
type decisions struct {
	mu  sync.Mutex
	got []sms.GateDecision
}

func (d *decisions) Decide(_ context.Context, g sms.GateDecision) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, g)
	return nil
}

func (d *decisions) all() []sms.GateDecision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]sms.GateDecision(nil), d.got...)
}

func newSigner(t *testing.T) ssh.Signer {
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

type smsSecrets []byte

func (smsSecrets) TOTPSecret(string) ([]byte, bool) { return nil, false }
func (s smsSecrets) SMSCodeKey() []byte             { return s }

var factorKey = smsSecrets("fedcba9876543210fedcba9876543210")

// operators is a real roster: alice approves (phone = the on-call
// roster's alice), bob only responds (he may not approve), dave approves
// but is not on call; the engine key signs relayed replies.
type operators struct {
	c      *authz.Compiled
	engine ssh.Signer
}

const davePhone = "+4915100000004"

func newOperators(t *testing.T) operators {
	t.Helper()
	line := func(s ssh.Signer) string { return operatorkey.AuthorizedKey(s.PublicKey(), "") }
	engine := newSigner(t)
	c, err := authz.Compile(authz.Policy{
		Operators: []authz.Operator{
			{Name: "alice", Keys: []string{line(newSigner(t))}, Phone: "+4915100000001", Roles: []string{authz.RoleApprover}},
			{Name: "bob", Keys: []string{line(newSigner(t))}, Phone: "+4915100000002", Roles: []string{authz.RoleResponder}},
			{Name: "dave", Keys: []string{line(newSigner(t))}, Phone: davePhone, Roles: []string{authz.RoleApprover}},
		},
		EngineKeys: []string{line(engine)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return operators{c: c, engine: engine}
}

func (o operators) sign(st authz.Statement) (authz.Signed, error) {
	return operatorkey.Sign(o.engine, st)
}

// An APPROVE texted from an operator's roster phone with the SMS factor
// code the gate texted them becomes an engine-signed decision on their
// behalf, which the real authz check accepts for a gate requiring sms.
func TestSMSReplyBecomesAnEngineSignedDecision(t *testing.T) {
	ops := newOperators(t)
	issued := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	now := issued.Add(3 * time.Minute)
	code := authz.SMSFactorCode(factorKey, "alice", "inc-9", "run-2", "approve_unfreeze", issued)
	acks := sms.NewMemoryStore()
	acks.Expect(context.Background(), sms.Pending{Code: code, Incident: "inc-9", Run: "run-2", Step: "approve_unfreeze",
		Gate: "approve_unfreeze", Operator: "alice", Reply: sms.ReplyApprove, IssuedAt: issued, ExpiresAt: issued.Add(authz.SMSCodeTTL)})
	d := &decisions{}
	clock := func() time.Time { return now }
	resp := sms.GateResponder{Acks: acks, Decider: d, Operators: func() *authz.Compiled { return ops.c }, Sign: ops.sign, Now: clock}
	wh, err := sms.NewWebhook(sms.WebhookConfig{AuthToken: testToken, Roster: testRoster(), Operators: func() *authz.Compiled { return ops.c },
		Acks: acks, Responder: resp, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	sim := startSim(t)
	srv := newHTTPServer(t, wh)
	send := func(from, body string) string {
		t.Helper()
		r, err := sim.SendInbound(context.Background(), srv, twiliosim.Inbound{From: from, To: twilioNum, Body: body})
		if err != nil || r.Status != 200 {
			t.Fatalf("%v %+v", err, r)
		}
		return r.Body
	}

	// Bob has alice's text: her code from his phone is refused.
	if body := send("+4915100000002", "APPROVE "+code); !strings.Contains(body, "was not sent to this number") || len(d.all()) != 0 {
		t.Fatalf("bob with alice's code: %q; decisions %v", body, d.all())
	}
	if body := send("+4915100000001", "approve "+strings.ToLower(code)); !strings.Contains(body, "Approval "+code+" recorded for incident inc-9. Thanks, alice.") {
		t.Fatalf("alice: %q", body)
	}
	got := d.all()
	if len(got) != 1 || got[0].Incident != "inc-9" || got[0].Run != "run-2" || got[0].Gate != "approve_unfreeze" ||
		got[0].Operator != "alice" || !got[0].Approve {
		t.Fatalf("decisions %+v", got)
	}
	st, err := got[0].Signed.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if st.Operator != authz.EngineName || st.OnBehalfOf != "alice" || st.Verb != authz.VerbApprove || st.Step != "approve_unfreeze" ||
		st.Factor == nil || st.Factor.Kind != authz.FactorSMSReply || st.Factor.Code != code ||
		!st.IssuedAt.Equal(now) || st.Expires.Sub(st.IssuedAt) != 5*time.Minute {
		t.Fatalf("statement %+v", st)
	}
	v, err := ops.c.Authorize(authz.Request{Verb: authz.VerbApprove, Incident: "inc-9", Run: "run-2", Step: "approve_unfreeze",
		Group: "oncall", SecondFactor: authz.FactorSMS, FactorIssuedAt: issued, Now: now, Signed: &got[0].Signed}, factorKey)
	if err != nil || v.Operator != "alice" || v.Via != authz.EngineName || v.Factor != authz.FactorSMSReply {
		t.Fatalf("authz: %+v %v", v, err)
	}
	// The same relayed statement does not pass for another run.
	if _, err := ops.c.Authorize(authz.Request{Verb: authz.VerbApprove, Incident: "inc-9", Run: "run-3", Step: "approve_unfreeze",
		Group: "oncall", SecondFactor: authz.FactorSMS, FactorIssuedAt: issued, Now: now, Signed: &got[0].Signed}, factorKey); err == nil {
		t.Fatal("accepted for another run")
	}
}

// A page's code (notify.sms with a gate, no operator binding) answered from
// a number: the decision is signed on behalf of the operator owning that
// number, and authz — not the webhook — judges whether they may approve.
// A number that is on call but no operator's cannot decide.
func TestPageCodeDecisionsAreOnBehalfOfThePhonesOperator(t *testing.T) {
	ops := newOperators(t)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	code, _ := sms.ApprovalCode([]byte("0123456789abcdef0123456789abcdef"), "inc-9", "run-2", "ask_unfreeze")
	acks := sms.NewMemoryStore()
	acks.Expect(context.Background(), sms.Pending{Code: code, Incident: "inc-9", Run: "run-2", Step: "ask_unfreeze",
		Gate: "approve_unfreeze", Reply: sms.ReplyApprove, IssuedAt: now, ExpiresAt: now.Add(sms.CodeTTL)})
	d := &decisions{}
	var acked []string
	roster := testRoster()
	roster.People = append(roster.People, sms.Person{Name: "erin", Phone: "+4915100000005", Role: "sre"})
	resp := sms.GateResponder{Acks: acks, Decider: d, Operators: func() *authz.Compiled { return ops.c }, Sign: ops.sign,
		Now: func() time.Time { return now }, OnAck: func(_ context.Context, p sms.Pending, who string) error {
			acked = append(acked, p.Incident+" "+who)
			return nil
		}}
	wh, err := sms.NewWebhook(sms.WebhookConfig{AuthToken: testToken, Roster: roster, Operators: func() *authz.Compiled { return ops.c },
		Acks: acks, Responder: resp, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sim := startSim(t)
	srv := newHTTPServer(t, wh)
	send := func(from, body string) string {
		t.Helper()
		r, err := sim.SendInbound(context.Background(), srv, twiliosim.Inbound{From: from, To: twilioNum, Body: body})
		if err != nil || r.Status != 200 {
			t.Fatalf("%v %+v", err, r)
		}
		return r.Body
	}
	if body := send("+4915100000005", "APPROVE "+code); !strings.Contains(body, "is not the roster phone of any operator") || len(d.all()) != 0 {
		t.Fatalf("erin: %q; %v", body, d.all())
	}
	send("+4915100000002", "DENY "+code)
	got := d.all()
	if len(got) != 1 || got[0].Operator != "bob" || got[0].Approve {
		t.Fatalf("decisions %+v", got)
	}
	_, err = ops.c.Authorize(authz.Request{Verb: authz.VerbDeny, Incident: "inc-9", Run: "run-2", Step: "approve_unfreeze",
		Group: "security", Now: now, Signed: &got[0].Signed}, factorKey)
	if err == nil || !strings.Contains(err.Error(), `bob is not an approver of group "security"`) {
		t.Fatalf("bob's deny: %v", err)
	}
	if body := send(davePhone, "ACK "+code); !strings.Contains(body, "Acknowledgement") || len(acked) != 1 || acked[0] != "inc-9 dave" {
		t.Fatalf("ack %q reached %v", body, acked)
	}
}
