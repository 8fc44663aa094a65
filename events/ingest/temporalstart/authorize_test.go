package temporalstart

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"golang.org/x/crypto/ssh"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func engineKey(t *testing.T) ssh.Signer {
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

// engineCheck authorizes in's Authorization as the workflow's start check
// does: everything in the Request comes from the input, nothing from the
// statement.
func engineCheck(t *testing.T, key ssh.Signer, in workflows.IncidentInput, now time.Time) (authz.Verified, error) {
	t.Helper()
	pol, err := authz.Compile(authz.Policy{
		EngineKeys: []string{operatorkey.AuthorizedKey(key.PublicKey(), "engine")},
		Registered: map[string]string{workflows.StartStatement(in).Definition: in.Runbook.Name},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := workflows.StartStatement(in)
	return pol.Authorize(authz.Request{Verb: authz.VerbExec, Incident: in.IncidentID, Runbook: in.Runbook.Name,
		RunbookHash: in.RunbookHash, Definition: st.Definition, Inputs: st.Inputs, Options: st.Options, Trigger: in.Trigger,
		Now: now, Signed: in.Authorization}, nil)
}

// Both starters sign every start with the engine key, for exactly that
// incident, runbook, hash, inputs+event and trigger; authz accepts it
// against the engine's public key and nothing else.
func TestEngineStartsAreSignedAndVerify(t *testing.T) {
	key := engineKey(t)
	ctx := context.Background()

	svc := &fakeService{running: map[string]bool{}}
	s := &Starter{Service: svc, Actions: cat, Sign: KeySigner(key)}
	if _, err := s.StartOrSignal(ctx, request("e1")); err != nil {
		t.Fatal(err)
	}
	var viaSWS workflows.IncidentInput
	if err := converter.GetDefaultDataConverter().FromPayloads(svc.reqs[0].Input, &viaSWS); err != nil {
		t.Fatal(err)
	}

	fc := &fakeClient{running: map[string]bool{}, closed: map[string]bool{}}
	es := &EagerStarter{Client: fc, Actions: cat, Sign: KeySigner(key), Trigger: TriggerFleet}
	if _, err := es.StartOrSignal(ctx, request("e2")); err != nil {
		t.Fatal(err)
	}
	viaEager := fc.inputs[0]

	for name, tc := range map[string]struct {
		in      workflows.IncidentInput
		trigger string
	}{"signal-with-start": {viaSWS, TriggerEvent}, "eager fleet": {viaEager, TriggerFleet}} {
		in := tc.in
		if in.Authorization == nil || in.Trigger != tc.trigger {
			t.Fatalf("%s: trigger %q authorization %v", name, in.Trigger, in.Authorization)
		}
		st, err := in.Authorization.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if st.Operator != authz.EngineName || st.Trigger != tc.trigger || st.Expires.Sub(st.IssuedAt) != StartTTL {
			t.Errorf("%s: statement %+v", name, st)
		}
		v, err := engineCheck(t, key, in, time.Now())
		if err != nil || v.Operator != authz.EngineName || v.Fingerprint != authz.Fingerprint(key.PublicKey()) {
			t.Fatalf("%s: verified %+v, %v", name, v, err)
		}

		// Another incident's inputs, a changed trigger, another key, or
		// too late: refused.
		other := in
		other.Inputs = map[string]any{"bot": "bot-2"}
		if _, err := engineCheck(t, key, other, time.Now()); err == nil || !strings.Contains(err.Error(), "inputs") {
			t.Errorf("%s: other inputs: %v", name, err)
		}
		other = in
		other.Trigger = "manual"
		if _, err := engineCheck(t, key, other, time.Now()); err == nil {
			t.Errorf("%s: manual trigger accepted", name)
		}
		if _, err := engineCheck(t, engineKey(t), in, time.Now()); err == nil {
			t.Errorf("%s: accepted against another engine key", name)
		}
		if _, err := engineCheck(t, key, in, time.Now().Add(StartTTL+time.Second)); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("%s: after StartTTL: %v", name, err)
		}
	}
}

// Without a signer a start carries no authorization (the workflow then
// fails it closed); a signer's error stops the start.
func TestUnsignedAndFailedSigning(t *testing.T) {
	fc := &fakeClient{running: map[string]bool{}, closed: map[string]bool{}}
	es := &EagerStarter{Client: fc, Actions: cat}
	if _, err := es.StartOrSignal(context.Background(), request("e1")); err != nil || fc.inputs[0].Authorization != nil {
		t.Fatalf("unsigned: %v %+v", err, fc.inputs[0].Authorization)
	}
	es.Sign = func(authz.Statement) (authz.Signed, error) { return authz.Signed{}, context.DeadlineExceeded }
	req := request("e2")
	req.IncidentID = "other"
	if _, err := es.StartOrSignal(context.Background(), req); err == nil || len(fc.starts) != 1 {
		t.Fatalf("signing failure: %v, %d starts", err, len(fc.starts))
	}
}
