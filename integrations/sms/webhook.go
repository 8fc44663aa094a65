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
)

// Responder acts on an answer; the engine wires it to the incident
// workflow's approve/deny updates (Pending maps the code to incident and
// gate). identity is the roster name of the person who answered.
type Responder interface {
	Approve(ctx context.Context, code, identity string) error
	Ack(ctx context.Context, code, identity string) error
	Deny(ctx context.Context, code, identity string) error
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
	Roster    *Roster
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
//   - a body that is not "APPROVE|ACK|DENY <code>", or a code never issued
//     → 200 with a TwiML reply saying so, nothing recorded;
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
	case cfg.Roster == nil:
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
	person, ok := w.cfg.Roster.ByPhone(from)
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
	dup, err := w.cfg.Acks.Record(ctx, Answer{Code: code, Kind: kind, Identity: person.Name, Phone: person.Phone,
		MessageSID: form.Get("MessageSid"), At: w.cfg.Now()})
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
		rerr = w.cfg.Responder.Approve(ctx, code, person.Name)
	case AnswerDeny:
		rerr = w.cfg.Responder.Deny(ctx, code, person.Name)
	default:
		rerr = w.cfg.Responder.Ack(ctx, code, person.Name)
	}
	w.cfg.Log.Info("sms webhook: answer", "kind", kind, "code", code, "incident", p.Incident, "by", person.Name, "err", rerr)
	if rerr != nil {
		twiml(rw, fmt.Sprintf("Recorded %s %s for incident %s, but it could not be applied: %s",
			strings.ToUpper(string(kind)), code, p.Incident, firstLine(rerr.Error())))
		return
	}
	twiml(rw, fmt.Sprintf("%s %s recorded for incident %s. Thanks, %s.", pastTense(kind), code, p.Incident, person.Name))
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
