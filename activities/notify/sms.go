// Package notify holds notify.sms: text the on-call roster through Twilio,
// escalate when nobody answers, and never hold up containment; and
// notify.ask_approvers (ask.go), which texts the approvers of a gate that
// starts waiting.
//
// # Escalation: Temporal holds the wait
//
// Each activity attempt is short (a few HTTP calls). It asks sms.Next what
// to do: send to the next person, stop (answered, or sent without
// escalation), give up (everyone paged), or wait. To wait it returns an
// AwaitingAnswer error whose NextRetryDelay is the rest of the ack timeout:
// Temporal's server keeps that timer, no worker slot is held, a worker
// restart loses nothing, and the next attempt picks up where the last one
// stopped because every page is in the SentLog and every answer (recorded
// by the inbound webhook) in the AckStore. So with escalate: true the step
// stays open until someone answers or the chain is exhausted: put it where
// that is wanted (the end of a runbook, or a parallel branch next to an
// approval gate), and give it retry.max_attempts of at least the number of
// people paged + 2 (more to absorb Twilio outages). An answer is noticed at
// the next look, at most ack_timeout after it arrived.
//
// # Idempotency
//
// Twilio's Messages API takes no idempotency key, so the SentLog is the
// record: before texting person P for (incident, run, step) the action
// looks for a record of (incident, run, step, P) and sends only when there
// is none (a rerun of an incident id is a new run and texts again); right
// after Twilio's 201 it writes the record with the message SID. The one
// duplicate still possible: the worker dies (or the attempt times out and is
// abandoned) after Twilio accepted the message and before the record write
// finished — the next attempt finds no record and texts P again, with the
// same body and the same approval code (the code is derived from incident,
// run and step, so the two texts are interchangeable). A failed record write
// after a successful send does not cause a retry: the step ends with what it
// sent and says the log write failed.
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/runbooks"
)

// SMSDeps are what notify.sms needs from the worker. A zero value builds
// the action for validation and planning; running it then fails clearly.
type SMSDeps struct {
	Sender sms.Sender // *sms.Client
	Roster *sms.Roster
	// CodeKey is the HMAC key of approval codes (≥16 bytes, from the secret
	// store or environment; the webhook needs no copy of it).
	CodeKey []byte
	Sent    sms.SentLog
	Acks    sms.AckStore
	Now     func() time.Time // default time.Now
}

// SMSParams are notify.sms's params.
type SMSParams struct {
	Message    string `json:"message"`
	To         string `json:"to"`
	Bot        string `json:"bot"`
	Escalate   bool   `json:"escalate"`
	AckTimeout string `json:"ack_timeout"`
	Reply      string `json:"reply"`
	Severity   string `json:"severity"`
	Gate       string `json:"gate"`
	ackTimeout time.Duration
}

// MaxAckTimeout bounds ack_timeout: a longer silence is an outage of the
// paging process, not a wait.
const MaxAckTimeout = 24 * time.Hour

// Validate checks enums and parses ack_timeout.
func (p *SMSParams) Validate() error {
	if strings.TrimSpace(p.Message) == "" {
		return errors.New("message is empty")
	}
	switch sms.Reply(p.Reply) {
	case sms.ReplyAck, sms.ReplyApprove, sms.ReplyNone:
	default:
		return fmt.Errorf("reply %q is not one of ack, approve, none", p.Reply)
	}
	ok := false
	for _, s := range sms.Severities {
		ok = ok || p.Severity == s
	}
	if !ok {
		return fmt.Errorf("severity %q is not one of %s", p.Severity, strings.Join(sms.Severities, ", "))
	}
	if p.AckTimeout != "" {
		d, err := runbooks.ParseDuration(p.AckTimeout)
		if err != nil {
			return err
		}
		if d.D() <= 0 || d.D() > MaxAckTimeout {
			return fmt.Errorf("ack_timeout %s must be between 1s and %s", p.AckTimeout, MaxAckTimeout)
		}
		p.ackTimeout = d.D()
	}
	if p.Escalate && sms.Reply(p.Reply) == sms.ReplyNone {
		return errors.New("escalate needs a reply to wait for: set reply to ack or approve")
	}
	return nil
}

// SMSSpec declares notify.sms.
var SMSSpec = runbooks.ActionSpec{
	Name: "notify.sms",
	Description: "Text on-call through Twilio: the incident id, bot, what was done and a short approval code " +
		"on-call answers with (APPROVE|ACK|DENY <code>). With escalate, the next person in the roster is texted " +
		"when nobody answers within ack_timeout; the step stays open (without holding a worker) until an answer " +
		"or the end of the roster. Never texts the same person twice for one step. Give the step " +
		"on_failure: continue so a Twilio outage never holds up containment.",
	Params: []runbooks.ParamSpec{
		{Name: "message", Type: runbooks.ParamString, Required: true, Description: "what was done (templated by the runbook)"},
		{Name: "to", Type: runbooks.ParamString, Default: sms.ToOnCall, Description: `a roster role, or "oncall" for the escalation order`},
		{Name: "bot", Type: runbooks.ParamString, Description: "the bot concerned, shown in the text"},
		{Name: "escalate", Type: runbooks.ParamBool, Default: false, Description: "page the next person when nobody answers in time"},
		{Name: "ack_timeout", Type: runbooks.ParamDuration, Description: "wait per person before escalating (default: the roster's, else 5m)"},
		{Name: "reply", Type: runbooks.ParamString, Default: string(sms.ReplyAck), Enum: []string{"ack", "approve", "none"},
			Description: "the answer the text asks for"},
		{Name: "severity", Type: runbooks.ParamString, Default: string(sms.SeverityHigh), Enum: sms.Severities,
			Description: "low/medium texts wait out the roster's quiet hours; high/critical (breaches) never do"},
		{Name: "gate", Type: runbooks.ParamString, Description: "the approval step an APPROVE/DENY answers (for the webhook's responder)"},
	},
	Outputs: []string{"sent_to", "to", "person", "level", "message_sid", "approval_code", "delivery_status",
		"delivered", "answer", "answered_by"},
	SideEffect: runbooks.Irreversible,
	// A text cannot be taken back, but it must never be held: a held
	// incident has to reach on-call to be released.
	Pages: true,
	Needs: []string{"sms.twilio", "sms.roster"},
	Example: "- id: page_oncall\n  action: notify.sms\n  on_failure: continue\n  retry: {max_attempts: 8}\n" +
		"  with:\n    to: oncall\n    bot: ${{ inputs.bot }}\n    message: \"key revoked, new key delivered, bot unfrozen\"\n" +
		"    escalate: true\n    ack_timeout: 5m",
}

// SMS returns the notify.sms action.
func SMS(d SMSDeps) activities.Action {
	var tmpl *sms.Template
	var tmplErr error
	if d.Roster != nil {
		tmpl, tmplErr = sms.ParseTemplate(d.Roster.Template)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return activities.Typed(SMSSpec, func(ctx context.Context, req runbooks.ActionRequest, p SMSParams) (runbooks.ActionResult, error) {
		if err := d.configured(); err != nil {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, err)
		}
		if tmplErr != nil {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, tmplErr)
		}
		pg := &page{d: d, tmpl: tmpl, req: req, p: p}
		return pg.run(ctx)
	})
}

func (d SMSDeps) configured() error {
	var missing []string
	if d.Sender == nil {
		missing = append(missing, "twilio client")
	}
	if d.Roster == nil {
		missing = append(missing, "roster")
	}
	if len(d.CodeKey) < sms.MinCodeKey {
		missing = append(missing, "approval code key")
	}
	if d.Sent == nil {
		missing = append(missing, "sent log")
	}
	if d.Acks == nil {
		missing = append(missing, "ack store")
	}
	if len(missing) > 0 {
		return fmt.Errorf("notify.sms is not configured: no %s", strings.Join(missing, ", "))
	}
	return nil
}
