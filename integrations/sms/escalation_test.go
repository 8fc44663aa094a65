package sms_test

import (
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/sms"
)

func TestNext(t *testing.T) {
	chain := testRoster().People // alice, bob, carol
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ack := 5 * time.Minute
	sent := func(p sms.Person, at time.Time, status, errText string) sms.SentRecord {
		return sms.SentRecord{Person: p.Name, Key: sms.SentKey{Recipient: p.Phone}, SentAt: at, Status: status, Error: errText, MessageSID: "SM1"}
	}
	alice, bob, carol := chain[0], chain[1], chain[2]
	cases := []struct {
		name     string
		sent     []sms.SentRecord
		answered bool
		escalate bool
		now      time.Time
		step     sms.Step
		who      string
		wait     time.Duration
	}{
		{name: "first page", now: t0, step: sms.StepSend, who: "alice"},
		{name: "sent, no escalation", sent: []sms.SentRecord{sent(alice, t0, "queued", "")}, now: t0.Add(time.Hour), step: sms.StepDone},
		{name: "waiting", sent: []sms.SentRecord{sent(alice, t0, "delivered", "")}, escalate: true, now: t0.Add(2 * time.Minute), step: sms.StepWait, wait: 3 * time.Minute},
		{name: "timeout escalates", sent: []sms.SentRecord{sent(alice, t0, "delivered", "")}, escalate: true, now: t0.Add(ack), step: sms.StepSend, who: "bob"},
		{name: "answered", sent: []sms.SentRecord{sent(alice, t0, "delivered", "")}, answered: true, escalate: true, now: t0.Add(time.Hour), step: sms.StepDone},
		{name: "refused number moves on without escalation", sent: []sms.SentRecord{sent(alice, t0, "", "opted out")}, now: t0, step: sms.StepSend, who: "bob"},
		{name: "undelivered moves on at once", sent: []sms.SentRecord{sent(alice, t0, "undelivered", "")}, escalate: true, now: t0, step: sms.StepSend, who: "bob"},
		{name: "third level", sent: []sms.SentRecord{sent(alice, t0, "delivered", ""), sent(bob, t0.Add(ack), "delivered", "")}, escalate: true, now: t0.Add(2 * ack), step: sms.StepSend, who: "carol"},
		{name: "exhausted", sent: []sms.SentRecord{sent(alice, t0, "delivered", ""), sent(bob, t0, "delivered", ""), sent(carol, t0, "delivered", "")}, escalate: true, now: t0.Add(ack), step: sms.StepExhausted},
		{name: "nobody reachable", sent: []sms.SentRecord{sent(alice, t0, "", "x"), sent(bob, t0, "", "x"), sent(carol, t0, "failed", "")}, now: t0, step: sms.StepExhausted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := map[string]sms.SentRecord{}
			for _, r := range c.sent {
				m[r.Key.Recipient] = r
			}
			d := sms.Next(chain, m, c.answered, c.escalate, ack, c.now)
			if d.Step != c.step || d.Person.Name != c.who || d.Wait != c.wait {
				t.Fatalf("got step %d person %q wait %s (%s); want %d %q %s", d.Step, d.Person.Name, d.Wait, d.Reason, c.step, c.who, c.wait)
			}
		})
	}
}
