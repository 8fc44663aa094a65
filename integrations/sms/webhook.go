package sms

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/keyresponse/runbook/runbooks/authz"
)

// Responder acts on an answer; the engine wires it to the incident
// workflow's approve/deny updates (GateResponder). a.Identity is the roster
// name of the person who answered (the operator's, when the number is an
// operator's roster phone) and a.Phone the number that texted.
type Responder interface {
	Approve(ctx context.Context, a Answer) error
	Ack(ctx context.Context, a Answer) error
	Deny(ctx context.Context, a Answer) error
}

// WebhookConfig configures the inbound-SMS handler.
type WebhookConfig struct {
	// AuthToken is the Twilio auth token: Twilio signs each webhook request
	// with it (X-Twilio-Signature).
	AuthToken string
	// PublicURL is the exact URL configured in Twilio for incoming
	// messages; the signature covers it. Behind a proxy or tunnel the URL
	// this process sees differs, so set it. Empty: rebuilt from the
	// request (scheme from TLS, Host header, path and query).
	PublicURL string
	// Roster is the on-call roster (who notify.sms pages).
	Roster *Roster
	// Operators, when set, is the worker's live operator roster: operators'
	// roster phones may answer too, and a code texted to one operator
	// (Pending.Operator) is accepted from that operator's phone only.
	// authz.Live.Policy fits.
	Operators func() *authz.Compiled
	Acks      AckStore
	Responder Responder
	Log       *slog.Logger
	Now       func() time.Time
}

// Webhook is the http.Handler for Twilio's inbound-SMS webhook.
//
//   - a request without a valid X-Twilio-Signature → 403, nothing recorded;
//   - a sender that is not a roster number → 403 (no SMS reply: we do not
//     talk to strangers, and Twilio's debugger shows the rejection);
//   - a body that is not "APPROVE|ACK|DENY <code>", a code never issued, an
//     expired code, or a code texted to another operator → 200 with a
//     TwiML reply saying so, nothing recorded;
//   - otherwise the answer is recorded in the AckStore (which stops the
//     page's escalation even if the Responder then fails) and the matching
//     Responder method is called; the TwiML reply says what happened.
type Webhook struct {
	cfg WebhookConfig
	v   client.RequestValidator
}

// NewWebhook checks cfg and returns the handler.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	switch {
	case cfg.AuthToken == "":
		return nil, errors.New("sms webhook: no auth token to verify signatures with")
	case cfg.Roster == nil && cfg.Operators == nil:
		return nil, errors.New("sms webhook: no roster")
	case cfg.Acks == nil:
		return nil, errors.New("sms webhook: no ack store")
	case cfg.Responder == nil:
		return nil, errors.New("sms webhook: no responder")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Webhook{cfg: cfg, v: client.NewRequestValidator(cfg.AuthToken)}, nil
}

// maxInbound bounds the request body; Twilio's inbound form is a few
// hundred bytes.
const maxInbound = 64 << 10

// Help is the reply to a text the webhook does not understand.
const Help = "Not understood. Reply APPROVE <code>, ACK <code> or DENY <code>."

func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		http.Error(rw, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxInbound))
	if err != nil {
		http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if !w.v.ValidateBody(w.url(r), body, r.Header.Get("X-Twilio-Signature")) {
		w.cfg.Log.Warn("sms webhook: bad signature", "remote", r.RemoteAddr)
		http.Error(rw, "invalid signature", http.StatusForbidden)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(rw, "bad form", http.StatusBadRequest)
		return
	}
	from := form.Get("From")
	who, ok := w.sender(from)
	if !ok {
		w.cfg.Log.Warn("sms webhook: text from a number not on the roster", "from", MaskPhone(from))
		http.Error(rw, "unknown sender", http.StatusForbidden)
		return
	}
	kind, code, ok := ParseAnswer(form.Get("Body"))
	if !ok {
		twiml(rw, Help)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second) // Twilio gives up after 15s
	defer cancel()
	p, ok, err := w.cfg.Acks.Pending(ctx, code)
	if err != nil {
		w.cfg.Log.Error("sms webhook: ack store", "err", err)
		http.Error(rw, "store unavailable", http.StatusServiceUnavailable) // Twilio may retry
		return
	}
	if !ok {
		twiml(rw, fmt.Sprintf("Unknown code %s. %s", code, Help))
		return
	}
	now := w.cfg.Now()
	if p.Expired(now) {
		twiml(rw, fmt.Sprintf("Code %s expired at %s. %s", code, p.ExpiresAt.UTC().Format("15:04 UTC Jan 2"), cliHint(p)))
		return
	}
	if p.Operator != "" && who.operator != p.Operator {
		// Codes sent to one approver are theirs alone: a forwarded text
		// does not let someone else answer in their name.
		w.cfg.Log.Warn("sms webhook: code answered from another number than its operator's", "from", MaskPhone(from), "incident", p.Incident)
		twiml(rw, fmt.Sprintf("Code %s was not sent to this number. %s", code, cliHint(p)))
		return
	}
	a := Answer{Code: code, Kind: kind, Identity: who.name, Phone: from, MessageSID: form.Get("MessageSid"), At: now}
	dup, err := w.cfg.Acks.Record(ctx, a)
	if err != nil {
		w.cfg.Log.Error("sms webhook: ack store", "err", err)
		http.Error(rw, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	if dup {
		twiml(rw, fmt.Sprintf("%s %s already recorded.", strings.ToUpper(string(kind)), code))
		return
	}
	var rerr error
	switch kind {
	case AnswerApprove:
		rerr = w.cfg.Responder.Approve(ctx, a)
	case AnswerDeny:
		rerr = w.cfg.Responder.Deny(ctx, a)
	default:
		rerr = w.cfg.Responder.Ack(ctx, a)
	}
	// The code is left out of the log: a gate's second-factor code is
	// worth something until the workflow has taken the decision.
	w.cfg.Log.Info("sms webhook: answer", "kind", kind, "incident", p.Incident, "gate", p.Gate, "by", who.name, "err", rerr)
	if rerr != nil {
		twiml(rw, fmt.Sprintf("Recorded %s %s for incident %s, but it could not be applied: %s",
			strings.ToUpper(string(kind)), code, p.Incident, firstLine(rerr.Error())))
		return
	}
	twiml(rw, fmt.Sprintf("%s %s recorded for incident %s. Thanks, %s.", pastTense(kind), code, p.Incident, who.name))
}

// texter is who sent an inbound text.
type texter struct {
	name     string // the operator's name when the number is an operator's, else the on-call person's
	operator string // "" when the number is no operator's
}

// sender finds who owns a number: an operator of the live roster (whose
// name is what a decision records) or a person of the on-call roster.
func (w *Webhook) sender(phone string) (texter, bool) {
	if w.cfg.Operators != nil {
		if c := w.cfg.Operators(); c != nil {
			if op, ok := c.ByPhone(phone); ok {
				return texter{name: op.Name, operator: op.Name}, true
			}
		}
	}
	if w.cfg.Roster != nil {
		if p, ok := w.cfg.Roster.ByPhone(phone); ok {
			return texter{name: p.Name}, true
		}
	}
	return texter{}, false
}

// cliHint says how to answer without the text.
func cliHint(p Pending) string {
	if p.Gate == "" {
		return fmt.Sprintf("Answer with: runbook approve %s", p.Incident)
	}
	return fmt.Sprintf("Answer with: runbook approve %s --step %s", p.Incident, p.Gate)
}

// ParseAnswer reads "APPROVE <code>", "ACK <code>" or "DENY <code>" (any
// case, surrounding spaces ignored).
func ParseAnswer(body string) (ReplyKind, string, bool) {
	f := strings.Fields(body)
	if len(f) != 2 {
		return "", "", false
	}
	code, ok := NormalizeCode(f[1])
	if !ok {
		return "", "", false
	}
	switch strings.ToUpper(f[0]) {
	case "APPROVE":
		return AnswerApprove, code, true
	case "ACK":
		return AnswerAck, code, true
	case "DENY":
		return AnswerDeny, code, true
	}
	return "", "", false
}

// url is the URL Twilio signed.
func (w *Webhook) url(r *http.Request) string {
	if w.cfg.PublicURL != "" {
		return w.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

func pastTense(k ReplyKind) string {
	switch k {
	case AnswerApprove:
		return "Approval"
	case AnswerDeny:
		return "Denial"
	}
	return "Acknowledgement"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// twiml answers with one reply message.
func twiml(rw http.ResponseWriter, msg string) {
	rw.Header().Set("Content-Type", "text/xml; charset=utf-8")
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Response><Message>")
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString("</Message></Response>")
	_, _ = io.WriteString(rw, b.String())
}
