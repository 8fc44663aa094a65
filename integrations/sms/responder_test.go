package sms_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
)

type decisions struct{ got []string }

func (d *decisions) Decide(_ context.Context, incident, gate, identity string, approve bool, comment string) error {
	d.got = append(d.got, fmt.Sprintf("%s/%s %s approve=%v (%s)", incident, gate, identity, approve, comment))
	return nil
}

// An APPROVE texted from a roster phone ends up as a decision on the gate
// the page named, in the incident that sent the code.
func TestGateResponderThroughTheWebhook(t *testing.T) {
	acks := sms.NewMemoryStore()
	code, _ := sms.ApprovalCode([]byte("0123456789abcdef0123456789abcdef"), "inc-9", "ask_unfreeze")
	acks.Expect(context.Background(), sms.Pending{Code: code, Incident: "inc-9", Step: "ask_unfreeze", Gate: "approve_unfreeze", Reply: sms.ReplyApprove})
	d := &decisions{}
	var acked []string
	resp := sms.GateResponder{Acks: acks, Decider: d, OnAck: func(_ context.Context, p sms.Pending, who string) error {
		acked = append(acked, p.Incident+" "+who)
		return nil
	}}
	wh, err := sms.NewWebhook(sms.WebhookConfig{AuthToken: testToken, Roster: testRoster(), Acks: acks, Responder: resp})
	if err != nil {
		t.Fatal(err)
	}
	sim := startSim(t)
	srv := newHTTPServer(t, wh)
	if r, err := sim.SendInbound(context.Background(), srv, twiliosim.Inbound{From: "+4915100000002", To: twilioNum, Body: "APPROVE " + code}); err != nil || r.Status != 200 {
		t.Fatalf("%v %+v", err, r)
	}
	if len(d.got) != 1 || d.got[0] != "inc-9/approve_unfreeze bob approve=true (by SMS, code "+code+")" {
		t.Fatalf("decisions %v", d.got)
	}
	if r, _ := sim.SendInbound(context.Background(), srv, twiliosim.Inbound{From: "+4915100000001", To: twilioNum, Body: "ACK " + code}); !strings.Contains(r.Body, "Acknowledgement") {
		t.Fatalf("ack reply %q", r.Body)
	}
	if len(acked) != 1 || acked[0] != "inc-9 alice" || len(d.got) != 1 {
		t.Fatalf("ack reached %v; decisions %v", acked, d.got)
	}
}
