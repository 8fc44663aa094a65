package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
)

func nonRetryable(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.NonRetryable()
}

func TestSendsTheTemplatedTextOnce(t *testing.T) {
	f := newFixture(t, token)
	params := map[string]any{"message": "leaked key revoked, new key delivered", "bot": "grid-7", "reply": "approve", "severity": "critical"}
	first, err := f.run(t, params)
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.to(alice)
	if len(msgs) != 1 || len(f.sim.Messages()) != 1 {
		t.Fatalf("messages: %+v", f.sim.Messages())
	}
	code := first.Outputs["approval_code"].(string)
	for _, want := range []string{"inc-bot7-breach", "grid-7", "leaked key revoked, new key delivered", "APPROVE " + code, "[CRITICAL]"} {
		if !strings.Contains(msgs[0].Body, want) {
			t.Errorf("text %q lacks %q", msgs[0].Body, want)
		}
	}
	if first.Outputs["message_sid"] != msgs[0].SID || first.Outputs["sent_to"] != "+491…0001" || first.Outputs["person"] != "alice" {
		t.Fatalf("outputs %v", first.Outputs)
	}
	if first.Outputs["delivery_status"] != "delivered" || first.Outputs["delivered"] != true {
		t.Fatalf("delivery status not read back: %v", first.Outputs)
	}
	for k, v := range first.Outputs {
		if s, ok := v.(string); ok && strings.Contains(s, alice) {
			t.Fatalf("output %s holds the full number: %s", k, s)
		}
	}

	// Temporal runs the same request again when an attempt's completion
	// was lost: nothing is sent twice, and the answer is the same.
	again, err := f.run(t, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.sim.Messages()) != 1 || again.Outputs["message_sid"] != first.Outputs["message_sid"] || again.Outputs["approval_code"] != code {
		t.Fatalf("retry sent again or changed its answer: %d messages, %v", len(f.sim.Messages()), again.Outputs)
	}
	if p, ok, _ := f.store.Pending(context.Background(), code); !ok || p.Incident != "inc-bot7-breach" || p.Step != "page_oncall" {
		t.Fatalf("code not registered for the webhook: %+v", p)
	}
}

func TestAuthFailureIsNotRetried(t *testing.T) {
	f := newFixture(t, "wrongtoken0000")
	_, err := f.run(t, map[string]any{"message": "x"})
	if activities.ErrorType(err) != activities.ErrAuthentication || !nonRetryable(err) {
		t.Fatalf("got %v (type %q)", err, activities.ErrorType(err))
	}
	if f.sim.Requests() != 1 {
		t.Fatalf("%d requests", f.sim.Requests())
	}
}

func TestTransientFailuresAreRetryableAndSendNothing(t *testing.T) {
	cases := map[twiliosim.Fault]string{
		twiliosim.ServerError:     activities.ErrUnavailable,
		twiliosim.Down:            activities.ErrNetwork,
		twiliosim.TooManyRequests: activities.ErrRateLimited,
	}
	for fault, kind := range cases {
		f := newFixture(t, token)
		f.sim.FailNext(fault, 1)
		_, err := f.run(t, map[string]any{"message": "x"})
		if activities.ErrorType(err) != kind || nonRetryable(err) {
			t.Fatalf("fault %d: got %v (type %q), want retryable %s", fault, err, activities.ErrorType(err), kind)
		}
		if len(f.store.Sent()) != 0 {
			t.Fatalf("fault %d: a failed send was logged as sent", fault)
		}
		if _, err := f.run(t, map[string]any{"message": "x"}); err != nil || len(f.to(alice)) != 1 {
			t.Fatalf("fault %d: the retry did not send exactly once: %v, %d", fault, err, len(f.to(alice)))
		}
	}
}

func TestRefusedNumberFallsThroughToTheNextPerson(t *testing.T) {
	f := newFixture(t, token)
	f.sim.OptOut(alice)
	res, err := f.run(t, map[string]any{"message": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["person"] != "bob" || len(f.to(bob)) != 1 {
		t.Fatalf("outputs %v, bob got %d", res.Outputs, len(f.to(bob)))
	}
	// A retry tries neither alice (refused) nor bob (done) again.
	if _, err := f.run(t, map[string]any{"message": "x"}); err != nil || f.sim.Requests() != 3 {
		t.Fatalf("retry: %v, %d requests (want 3: alice refused, bob, bob's status)", err, f.sim.Requests())
	}
}

func TestRosterExhaustedFailsClearly(t *testing.T) {
	f := newFixture(t, token)
	for _, n := range []string{alice, bob, carol} {
		f.sim.OptOut(n)
	}
	_, err := f.run(t, map[string]any{"message": "x"})
	if activities.ErrorType(err) != notify.ErrOnCallUnreachable || !nonRetryable(err) {
		t.Fatalf("got %v", err)
	}
	for _, who := range []string{"alice", "bob", "carol", "21610"} {
		if !strings.Contains(err.Error(), who) {
			t.Errorf("error %q does not mention %s", err, who)
		}
	}
}

func TestEscalationPicksTheNextPerson(t *testing.T) {
	f := newFixture(t, token)
	params := map[string]any{"message": "bot frozen", "escalate": true}

	_, err := f.run(t, params)
	if d, ok := notify.AwaitingDelay(err); !ok || d != 5*time.Minute || len(f.to(alice)) != 1 {
		t.Fatalf("first look: %v (delay %s), alice got %d", err, d, len(f.to(alice)))
	}
	f.clock.Advance(2 * time.Minute)
	if _, err = f.run(t, params); len(f.sim.Messages()) != 1 {
		t.Fatalf("early look texted again: %v", err)
	}
	if d, _ := notify.AwaitingDelay(err); d != 3*time.Minute {
		t.Fatalf("early look waits %s, want the remaining 3m", d)
	}
	f.clock.Advance(3 * time.Minute)
	_, err = f.run(t, params)
	if d, ok := notify.AwaitingDelay(err); !ok || d != 5*time.Minute || len(f.to(bob)) != 1 || len(f.to(alice)) != 1 {
		t.Fatalf("after the timeout: %v; alice %d, bob %d", err, len(f.to(alice)), len(f.to(bob)))
	}
	if !strings.Contains(f.to(bob)[0].Body, "escalated") {
		t.Fatalf("bob's text does not say it was escalated: %q", f.to(bob)[0].Body)
	}
	f.clock.Advance(5 * time.Minute)
	f.run(t, params)
	f.clock.Advance(5 * time.Minute)
	_, err = f.run(t, params)
	if activities.ErrorType(err) != notify.ErrOnCallUnreachable || !nonRetryable(err) || len(f.sim.Messages()) != 3 {
		t.Fatalf("end of roster: %v, %d messages", err, len(f.sim.Messages()))
	}
}

func TestAnswerThroughTheWebhookStopsEscalation(t *testing.T) {
	f := newFixture(t, token)
	hook := f.webhook(t)
	params := map[string]any{"message": "bot frozen", "escalate": true, "ack_timeout": "2m"}
	_, err := f.run(t, params)
	if _, ok := notify.AwaitingDelay(err); !ok {
		t.Fatalf("first look: %v", err)
	}
	text := f.to(alice)[0].Body
	code := text[strings.Index(text, "ACK ")+4:][:sms.CodeLength]
	r, err := f.sim.SendInbound(context.Background(), hook, twiliosim.Inbound{From: alice, To: twilioNum, Body: "ack " + code})
	if err != nil || r.Status != 200 {
		t.Fatalf("inbound: %v %+v", err, r)
	}
	f.clock.Advance(2 * time.Minute)
	res, err := f.run(t, params)
	if err != nil || res.Outputs["answered_by"] != "alice" || res.Outputs["answer"] != "ack" || len(f.to(bob)) != 0 {
		t.Fatalf("after ACK: %v %v; bob got %d", err, res.Outputs, len(f.to(bob)))
	}
}

func TestUndeliveredEscalatesAtOnce(t *testing.T) {
	f := newFixture(t, token)
	f.sim.Undeliverable(alice)
	_, err := f.run(t, map[string]any{"message": "x", "escalate": true})
	if _, ok := notify.AwaitingDelay(err); !ok || len(f.to(alice)) != 1 || len(f.to(bob)) != 1 {
		t.Fatalf("%v; alice %d, bob %d", err, len(f.to(alice)), len(f.to(bob)))
	}
}

func TestQuietHoursHoldOnlyLowSeverity(t *testing.T) {
	f := newFixture(t, token)
	f.roster.QuietHours = &sms.QuietHours{Start: "22:00", End: "07:00"} // the clock says 03:00 UTC
	res, err := f.run(t, map[string]any{"message": "weekly key audit done", "severity": "low"})
	if err != nil || res.Outputs["delivery_status"] != "held" || len(f.sim.Messages()) != 0 {
		t.Fatalf("low at night: %v %v, %d messages", err, res.Outputs, len(f.sim.Messages()))
	}
	f2 := newFixture(t, token)
	f2.roster.QuietHours = f.roster.QuietHours
	if _, err := f2.run(t, map[string]any{"message": "key leaked", "severity": "critical"}); err != nil || len(f2.sim.Messages()) != 1 {
		t.Fatalf("critical at night: %v, %d messages", err, len(f2.sim.Messages()))
	}
}

func TestRoleAddressing(t *testing.T) {
	f := newFixture(t, token)
	res, err := f.run(t, map[string]any{"message": "x", "to": "security"})
	if err != nil || res.Outputs["person"] != "bob" {
		t.Fatalf("%v %v", err, res.Outputs)
	}
	_, err = f.run(t, map[string]any{"message": "x", "to": "finance"})
	if activities.ErrorType(err) != activities.ErrInvalidParams || !nonRetryable(err) {
		t.Fatalf("unknown role: %v", err)
	}
}

func TestParamsAndConfiguration(t *testing.T) {
	f := newFixture(t, token)
	for name, params := range map[string]map[string]any{
		"no message":         {},
		"bad reply":          {"message": "x", "reply": "maybe"},
		"bad severity":       {"message": "x", "severity": "urgent"},
		"bad ack_timeout":    {"message": "x", "ack_timeout": "soon"},
		"escalate w/o reply": {"message": "x", "escalate": true, "reply": "none"},
		"unknown param":      {"message": "x", "phone": "+4915100000009"},
	} {
		if _, err := f.run(t, params); activities.ErrorType(err) != activities.ErrInvalidParams || !nonRetryable(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(f.sim.Messages()) != 0 {
		t.Fatal("a rejected request sent a text")
	}
	// A zero-value action exists for validate/plan and fails clearly when run.
	reg, err := activities.NewRegistry(notify.SMS(notify.SMSDeps{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Run(context.Background(), request(map[string]any{"message": "x"}))
	if err == nil || !strings.Contains(err.Error(), "not configured") || !nonRetryable(err) {
		t.Fatalf("unconfigured: %v", err)
	}
}

// A page's code expires (a day, or as long as the escalation can take):
// an answer after that is refused and stops nothing.
func TestPageCodeExpires(t *testing.T) {
	f := newFixture(t, token)
	hook := f.webhook(t)
	res, err := f.run(t, map[string]any{"message": "x", "reply": "ack"})
	if err != nil {
		t.Fatal(err)
	}
	code := res.Outputs["approval_code"].(string)
	f.clock.Advance(sms.CodeTTL)
	r, err := f.sim.SendInbound(context.Background(), hook, twiliosim.Inbound{From: alice, To: twilioNum, Body: "ACK " + code})
	if err != nil || r.Status != 200 || !strings.Contains(r.Body, "Code "+code+" expired") {
		t.Fatalf("%v %+v", err, r)
	}
	if _, ok, _ := f.store.Answer(context.Background(), code); ok {
		t.Fatal("answer to an expired code recorded")
	}
}
