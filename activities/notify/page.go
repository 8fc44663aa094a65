package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/runbooks"
)

// page is one attempt of one notify.sms step.
type page struct {
	d     SMSDeps
	tmpl  *sms.Template
	req   runbooks.ActionRequest
	p     SMSParams
	runID string // Temporal run id ("" outside an activity: tests, tools)

	chain  []sms.Person
	code   string
	reply  sms.Reply
	sent   map[string]sms.SentRecord // by phone
	answer *sms.Answer
}

func (g *page) run(ctx context.Context) (runbooks.ActionResult, error) {
	chain, err := g.d.Roster.Chain(g.p.To)
	if err != nil {
		return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, err)
	}
	g.chain, g.reply = chain, sms.Reply(g.p.Reply)
	g.runID = runID(ctx)
	if g.code, err = sms.ApprovalCode(g.d.CodeKey, g.req.IncidentID, g.runID, g.req.StepID); err != nil {
		return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, err)
	}
	ackTimeout := g.p.ackTimeout
	if ackTimeout == 0 {
		ackTimeout = g.d.Roster.Ack()
	}
	if g.reply != sms.ReplyNone {
		// Registered before any text goes out, so an answer can never
		// arrive for a code the webhook does not know. The code lives as
		// long as the escalation can take, and at least a day.
		now := g.d.Now()
		ttl := max(sms.CodeTTL, time.Duration(len(g.chain)+1)*ackTimeout)
		err := g.d.Acks.Expect(ctx, sms.Pending{Code: g.code, Incident: g.req.IncidentID, Run: g.runID, Step: g.req.StepID,
			Gate: g.p.Gate, Reply: g.reply, IssuedAt: now, ExpiresAt: now.Add(ttl)})
		if err != nil {
			return runbooks.ActionResult{}, storeError("ack store", err)
		}
	}
	if err := g.load(ctx); err != nil {
		return runbooks.ActionResult{}, err
	}
	if len(g.sent) == 0 && g.d.Roster.Suppressed(sms.Severity(g.p.Severity), g.d.Now()) {
		return g.held(), nil
	}
	// Each pass sends at most one text; a pass that texts nobody returns.
	for range len(g.chain) + 1 {
		if err := g.refresh(ctx); err != nil {
			return runbooks.ActionResult{}, err
		}
		d := sms.Next(g.chain, g.sent, g.answer != nil, g.p.Escalate, ackTimeout, g.d.Now())
		switch d.Step {
		case sms.StepDone:
			return g.result(d.Last, ""), nil
		case sms.StepExhausted:
			return runbooks.ActionResult{}, activities.NonRetryable(ErrOnCallUnreachable,
				fmt.Errorf("notify.sms: nobody reached for %q: %s (%s)", g.p.To, d.Reason, g.history()))
		case sms.StepWait:
			return runbooks.ActionResult{}, g.wait(ctx, d)
		}
		res, stop, err := g.send(ctx, d)
		if stop {
			return res, err
		}
	}
	return runbooks.ActionResult{}, activities.Retryable(activities.ErrUnavailable, errors.New("notify.sms: escalation did not settle"))
}

// load reads what earlier attempts sent for this step.
func (g *page) load(ctx context.Context) error {
	g.sent = map[string]sms.SentRecord{}
	for _, p := range g.chain {
		r, ok, err := g.d.Sent.Get(ctx, g.key(p))
		if err != nil {
			return storeError("sent log", err)
		}
		if ok {
			g.sent[p.Phone] = r
		}
	}
	return nil
}

// refresh reads the answer, if any, and the delivery status of the latest
// text (an undelivered text escalates at once). A failed status fetch is
// not worth failing the attempt for: the old status stands.
func (g *page) refresh(ctx context.Context) error {
	if g.reply != sms.ReplyNone && g.answer == nil {
		a, ok, err := g.d.Acks.Answer(ctx, g.code)
		if err != nil {
			return storeError("ack store", err)
		}
		if ok {
			g.answer = &a
		}
	}
	last := g.latest()
	if last == nil || last.MessageSID == "" || last.Failed() || sms.Delivered(last.Status) {
		return nil
	}
	m, err := g.d.Sender.Fetch(ctx, last.MessageSID)
	if err != nil || m.Status == last.Status {
		return nil
	}
	last.Status = m.Status
	if m.ErrorCode != 0 {
		last.Error = fmt.Sprintf("delivery: %s (code %d)", m.Status, m.ErrorCode)
	}
	g.sent[last.Key.Recipient] = *last
	if err := g.d.Sent.Put(ctx, *last); err != nil {
		return storeError("sent log", err)
	}
	return nil
}

// send texts d.Person once. stop is true when the attempt ends here.
func (g *page) send(ctx context.Context, d sms.Decision) (runbooks.ActionResult, bool, error) {
	body, err := g.tmpl.Render(sms.MessageData{IncidentID: g.req.IncidentID, Bot: g.p.Bot, Step: g.req.StepID,
		Severity: g.p.Severity, Message: g.p.Message, Code: g.code, Reply: g.p.Reply, Person: d.Person.Name, Level: d.Level})
	if err != nil {
		return runbooks.ActionResult{}, true, activities.NonRetryable(activities.ErrInvalidParams, err)
	}
	rec := sms.SentRecord{Key: g.key(d.Person), Person: d.Person.Name, Level: d.Level, Code: g.code}
	m, err := g.d.Sender.Send(ctx, d.Person.Phone, body)
	rec.SentAt = g.d.Now()
	if e, ok := sms.AsError(err); ok && e.Kind == sms.KindRecipient {
		// This number cannot get texts: record that, so no attempt tries
		// it again, and move on to the next person.
		rec.Error = e.Error()
		if err := g.d.Sent.Put(ctx, rec); err != nil {
			return runbooks.ActionResult{}, true, storeError("sent log", err) // nothing was sent: retrying is safe
		}
		g.sent[d.Person.Phone] = rec
		return runbooks.ActionResult{}, false, nil
	}
	if err != nil {
		return runbooks.ActionResult{}, true, activityError(err)
	}
	rec.MessageSID, rec.Status = m.SID, m.Status
	if err := g.put(ctx, rec); err != nil {
		// The text is out. Failing now would make Temporal retry and text
		// the same person again, so end the step with what was sent.
		res := g.result(&rec, fmt.Sprintf("sent, but the sent log could not be written (%v): escalation stopped", err))
		return res, true, nil
	}
	g.sent[d.Person.Phone] = rec
	return runbooks.ActionResult{}, false, nil
}

// put writes a record after a send (see putRecord).
func (g *page) put(ctx context.Context, rec sms.SentRecord) error {
	return putRecord(ctx, g.d.Sent, rec)
}

// putRecord writes a record after a send, trying a few times: a lost write
// here is the one way a retry could text someone twice.
func putRecord(ctx context.Context, log sms.SentLog, rec sms.SentRecord) error {
	var err error
	for i := range 3 {
		if err = log.Put(context.WithoutCancel(ctx), rec); err == nil {
			return nil
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	return err
}

// wait hands the wait to Temporal, unless this is the last attempt the
// retry policy allows: then say so instead of failing with "waiting". (The
// server puts the retry policy in activity.Info; the SDK's test environment
// does not, so this branch is not covered by the package tests.)
func (g *page) wait(ctx context.Context, d sms.Decision) error {
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		if rp := info.RetryPolicy; rp != nil && rp.MaximumAttempts > 0 && info.Attempt >= rp.MaximumAttempts {
			return activities.NonRetryable(ErrOnCallUnreachable, fmt.Errorf(
				"notify.sms: %s, but the step's retry budget (max_attempts %d) is spent; paged so far: %s — raise retry.max_attempts to at least %d",
				d.Reason, rp.MaximumAttempts, g.history(), len(g.chain)+2))
		}
	}
	return awaiting(fmt.Sprintf("notify.sms: %s; next look in %s", d.Reason, d.Wait.Round(time.Second)), d.Wait)
}

func (g *page) key(p sms.Person) sms.SentKey {
	return sms.SentKey{Incident: g.req.IncidentID, Run: g.runID, Step: g.req.StepID, Recipient: p.Phone}
}

// runID is the run of the workflow that started this activity: SMS
// idempotency and codes are per run, since a rerun of an incident id is a
// new incident.
func runID(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	return activity.GetInfo(ctx).WorkflowExecution.RunID
}

// latest is the text to the furthest person in the chain, if any.
func (g *page) latest() *sms.SentRecord {
	var out *sms.SentRecord
	for _, p := range g.chain {
		if r, ok := g.sent[p.Phone]; ok {
			out = &r
		}
	}
	return out
}

// history tells who was paged and how it went, numbers masked.
func (g *page) history() string {
	var parts []string
	for _, p := range g.chain {
		r, ok := g.sent[p.Phone]
		switch {
		case !ok:
			parts = append(parts, p.Name+": not paged")
		case r.Error != "":
			parts = append(parts, p.Name+": "+r.Error)
		default:
			parts = append(parts, fmt.Sprintf("%s: %s %s", p.Name, r.MessageSID, r.Status))
		}
	}
	return strings.Join(parts, "; ")
}

func (g *page) result(last *sms.SentRecord, note string) runbooks.ActionResult {
	out := map[string]any{"approval_code": "", "delivered": false, "answer": "", "answered_by": ""}
	if g.reply != sms.ReplyNone {
		out["approval_code"] = g.code
	}
	var summary []string
	if last != nil {
		masked := sms.MaskPhone(last.Key.Recipient)
		// "to" mirrors sent_to so the audit trail names the number
		// texted, not the role asked for.
		out["sent_to"], out["to"], out["person"], out["level"] = masked, masked, last.Person, last.Level
		out["message_sid"], out["delivery_status"], out["delivered"] = last.MessageSID, last.Status, sms.Delivered(last.Status)
		summary = append(summary, fmt.Sprintf("texted %s (%s) %s: %s", last.Person, masked, last.MessageSID, last.Status))
	}
	if g.answer != nil {
		out["answer"], out["answered_by"] = string(g.answer.Kind), g.answer.Identity
		summary = append(summary, fmt.Sprintf("%s answered %s", g.answer.Identity, strings.ToUpper(string(g.answer.Kind))))
	} else if g.reply != sms.ReplyNone {
		summary = append(summary, "code "+g.code)
	}
	if note != "" {
		summary = append(summary, note)
	}
	return runbooks.ActionResult{Outputs: out, Summary: strings.Join(summary, "; ")}
}

// held is the result when quiet hours hold a low/medium text back.
func (g *page) held() runbooks.ActionResult {
	res := g.result(nil, fmt.Sprintf("not sent: quiet hours hold back %s severity texts", g.p.Severity))
	res.Outputs["delivery_status"] = "held"
	return res
}
