package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// AskApproversActivity is the activity the interpreter starts when an
// approval gate begins waiting (and when a hold gate holds an incident): it
// texts every operator who may answer the gate what waits and how to
// answer. It is not a runbook action — no runbook step names it.
//
// The name and AskApproversRequest are the contract with workflows
// (workflows.AskApproversActivity / workflows.AskApproversRequest): the
// workflow side defines its own copy with the same JSON shape, since this
// package does not import workflows (and workflows must not import
// activities); contract_test.go checks the two stay identical.
const AskApproversActivity = "notify.ask_approvers"

// AskApproversRequest is what the gate says about itself.
type AskApproversRequest struct {
	Incident string `json:"incident"`
	Run      string `json:"run"`  // the workflow run ("" → this activity's run)
	Gate     string `json:"gate"` // the step that waits
	Group    string `json:"group"`
	Message  string `json:"message,omitempty"`
	// SecondFactor is the gate's ("", "totp", "sms"). With "sms" each text
	// carries the operator's authz.SMSFactorCode for this gate and run.
	SecondFactor string `json:"second_factor,omitempty"`
	// IssuedAt is when the gate started waiting (workflow time): SMS codes
	// are derived from it and expire authz.SMSCodeTTL after it, so a
	// retried activity sends the same code.
	IssuedAt time.Time `json:"issued_at"`
	// Held names the step a hold gate holds back ("" for an approval step).
	Held string `json:"held,omitempty"`
}

// AskApproversResult says who was texted. It holds no codes: an SMS
// second-factor code must not sit in workflow history.
type AskApproversResult struct {
	Texted []AskedOperator `json:"texted,omitempty"`
	// NoPhone lists approvers without a roster phone (not texted).
	NoPhone []string `json:"no_phone,omitempty"`
	Summary string   `json:"summary"`
}

// AskedOperator is one approver's text.
type AskedOperator struct {
	Operator   string `json:"operator"`
	To         string `json:"to"` // masked number
	MessageSID string `json:"message_sid,omitempty"`
	Status     string `json:"status,omitempty"`
	Error      string `json:"error,omitempty"` // Twilio refused the number
}

// AskDeps are what notify.ask_approvers needs from the worker.
type AskDeps struct {
	Sender sms.Sender
	// Roster is the worker's live operator roster (authz.Live.Policy):
	// who may approve a group and their phones, as of this attempt.
	Roster func() *authz.Compiled
	// Secrets are the worker's second-factor secrets (authz.Live.Secrets):
	// the SMS code key authz checks sms factor codes with.
	Secrets func() authz.Secrets
	// CodeKey is the key of the per-operator reply codes of gates without
	// an SMS second factor (the notify.sms code key).
	CodeKey []byte
	Sent    sms.SentLog
	Acks    sms.AckStore
	Now     func() time.Time // default time.Now
}

// RegisterAskApprovers registers notify.ask_approvers on a worker.
func RegisterAskApprovers(w worker.ActivityRegistry, d AskDeps) {
	w.RegisterActivityWithOptions(AskApprovers(d), activity.RegisterOptions{Name: AskApproversActivity})
}

// AskApprovers is the activity function. Idempotent under retry: each
// (incident, run, gate, issue time, phone) is texted at most once (the
// SentLog), with the same code every time.
func AskApprovers(d AskDeps) func(ctx context.Context, req AskApproversRequest) (AskApproversResult, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	return func(ctx context.Context, req AskApproversRequest) (AskApproversResult, error) {
		return d.ask(ctx, req)
	}
}

func (d AskDeps) ask(ctx context.Context, req AskApproversRequest) (AskApproversResult, error) {
	invalid := func(f string, a ...any) (AskApproversResult, error) {
		return AskApproversResult{}, activities.NonRetryable(activities.ErrInvalidParams, fmt.Errorf("notify.ask_approvers: "+f, a...))
	}
	if req.Run == "" {
		req.Run = runID(ctx)
	}
	switch {
	case req.Incident == "" || req.Gate == "" || req.Group == "":
		return invalid("incident, gate and group are required")
	case req.Run == "":
		return invalid("no run id: codes are bound to a run")
	case d.Sender == nil || d.Sent == nil || d.Acks == nil:
		return invalid("not configured: no twilio client, sent log or ack store")
	}
	var roster *authz.Compiled
	if d.Roster != nil {
		roster = d.Roster()
	}
	if roster == nil {
		return invalid("this worker has no operator roster loaded")
	}
	code, ttl, err := d.coder(req)
	if err != nil {
		return invalid("%v", err)
	}
	issued := req.IssuedAt
	if issued.IsZero() {
		issued = d.Now()
	}
	var res AskApproversResult
	var targets []authz.Operator
	for _, op := range roster.Approvers(req.Group) {
		if op.Phone == "" {
			res.NoPhone = append(res.NoPhone, op.Name)
			continue
		}
		targets = append(targets, op)
	}
	if len(targets) == 0 {
		why := "nobody may approve it"
		if len(res.NoPhone) > 0 {
			why = "no approver has a phone in the roster (" + strings.Join(res.NoPhone, ", ") + ")"
		}
		return AskApproversResult{}, activities.NonRetryable(ErrOnCallUnreachable,
			fmt.Errorf("notify.ask_approvers: nobody texted for gate %s (group %q): %s", req.Gate, req.Group, why))
	}
	var notes []string
	for _, op := range targets {
		c := code(op.Name)
		// Registered before the text goes out, so an answer can never
		// arrive for a code the webhook does not know.
		if err := d.Acks.Expect(ctx, sms.Pending{Code: c, Incident: req.Incident, Run: req.Run, Step: req.Gate, Gate: req.Gate,
			Operator: op.Name, Reply: sms.ReplyApprove, IssuedAt: issued, ExpiresAt: issued.Add(ttl)}); err != nil {
			return AskApproversResult{}, storeError("ack store", err)
		}
		key := sms.SentKey{Incident: req.Incident, Run: req.Run, Step: askStep(req), Recipient: op.Phone}
		rec, done, err := d.Sent.Get(ctx, key)
		if err != nil {
			return AskApproversResult{}, storeError("sent log", err)
		}
		if !done {
			rec = sms.SentRecord{Key: key, Person: op.Name, Code: c}
			m, err := d.Sender.Send(ctx, op.Phone, askBody(req, c))
			rec.SentAt = d.Now()
			if e, ok := sms.AsError(err); ok && e.Kind == sms.KindRecipient {
				// This number cannot get texts: remember that, so a retry
				// does not try it again, and text the others.
				rec.Error = e.Error()
				if err := d.Sent.Put(ctx, rec); err != nil {
					return AskApproversResult{}, storeError("sent log", err)
				}
			} else if err != nil {
				// Retryable or not, those already texted are in the log:
				// a retry texts only the rest.
				return AskApproversResult{}, activityError(err)
			} else {
				rec.MessageSID, rec.Status = m.SID, m.Status
				if err := putRecord(ctx, d.Sent, rec); err != nil {
					// The text is out: failing would text this operator
					// again on retry. Go on and say so.
					notes = append(notes, fmt.Sprintf("%s texted, but the sent log could not be written (%v)", op.Name, err))
				}
			}
		}
		res.Texted = append(res.Texted, AskedOperator{Operator: op.Name, To: sms.MaskPhone(op.Phone),
			MessageSID: rec.MessageSID, Status: rec.Status, Error: rec.Error})
	}
	res.Summary = askSummary(req, res, notes)
	return res, nil
}

// coder picks the code an operator gets and how long it lives: the
// gate's SMS second factor is authz's code exactly (authz compares the
// relayed reply with it); other gates get a reply code bound to the
// operator as well, so a forwarded text answers for nobody else.
func (d AskDeps) coder(req AskApproversRequest) (func(op string) string, time.Duration, error) {
	if req.SecondFactor == authz.FactorSMS {
		if req.IssuedAt.IsZero() {
			return nil, 0, errors.New("gate needs an SMS second factor but the request has no issued_at to derive codes from")
		}
		var key []byte
		if d.Secrets != nil {
			if s := d.Secrets(); s != nil {
				key = s.SMSCodeKey()
			}
		}
		if len(key) < authz.MinSMSCodeKey {
			return nil, 0, errors.New("no SMS code key is configured on the worker")
		}
		return func(op string) string {
			return authz.SMSFactorCode(key, op, req.Incident, req.Run, req.Gate, req.IssuedAt)
		}, authz.SMSCodeTTL, nil
	}
	if len(d.CodeKey) < sms.MinCodeKey {
		return nil, 0, errors.New("no approval code key is configured on the worker")
	}
	key := d.CodeKey
	return func(op string) string {
		c, _ := sms.OperatorCode(key, op, req.Incident, req.Run, req.Gate) // key length checked above
		return c
	}, sms.CodeTTL, nil
}

// askStep is the SentLog step of one ask: the gate, and when it started
// waiting, so a gate that waits again later in the same run texts again
// while a retry of the same ask does not.
func askStep(req AskApproversRequest) string {
	s := "ask:" + req.Gate
	if !req.IssuedAt.IsZero() {
		s += "@" + req.IssuedAt.UTC().Format(time.RFC3339Nano)
	}
	return s
}

// askBody is the text: what waits, and both ways to answer.
func askBody(req AskApproversRequest, code string) string {
	head := fmt.Sprintf("%s waits for your approval at %s", req.Incident, req.Gate)
	if req.Held != "" {
		head += fmt.Sprintf(" (held: %s)", req.Held)
	}
	cli := fmt.Sprintf("runbook approve %s --step %s", req.Incident, req.Gate)
	if req.SecondFactor == authz.FactorSMS {
		cli += " --sms-code " + code
	}
	tail := fmt.Sprintf(". Answer: %s or reply APPROVE %s / DENY %s", cli, code, code)
	msg := strings.TrimSpace(req.Message)
	if msg == "" {
		return head + tail
	}
	// Keep the instructions whole: shorten the message if the text would
	// not fit in one Twilio message.
	if over := utf8.RuneCountInString(head+": "+msg+tail) - sms.MaxBody; over > 0 {
		r := []rune(msg)
		msg = string(r[:max(0, len(r)-over-1)]) + "…"
	}
	return head + ": " + msg + tail
}

func askSummary(req AskApproversRequest, res AskApproversResult, notes []string) string {
	var parts []string
	for _, t := range res.Texted {
		if t.Error != "" {
			parts = append(parts, fmt.Sprintf("%s (%s) not reachable: %s", t.Operator, t.To, t.Error))
		} else {
			parts = append(parts, fmt.Sprintf("%s (%s) %s", t.Operator, t.To, t.MessageSID))
		}
	}
	s := fmt.Sprintf("asked the approvers of %q for gate %s: %s", req.Group, req.Gate, strings.Join(parts, ", "))
	if len(res.NoPhone) > 0 {
		s += "; no phone: " + strings.Join(res.NoPhone, ", ")
	}
	if len(notes) > 0 {
		s += "; " + strings.Join(notes, "; ")
	}
	return s
}
