package twiliosim

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Inbound is an SMS a person sends to the Twilio number.
type Inbound struct {
	From string // the person's number
	To   string // the Twilio number
	Body string
	// MessageSID defaults to a fresh SM… SID; set it to replay a message.
	MessageSID string
}

// InboundReply is the webhook's answer.
type InboundReply struct {
	Status int
	Body   string // TwiML, or an error text
}

// SendInbound POSTs in as Twilio would to webhookURL: the form fields of an
// incoming message, signed with X-Twilio-Signature computed from authToken.
// The signing mirrors Twilio's documented scheme and is written out here
// rather than borrowed from twilio-go, so tests check the validator against
// an independent implementation.
func (s *Server) SendInbound(ctx context.Context, webhookURL string, in Inbound) (InboundReply, error) {
	return SendInbound(ctx, webhookURL, s.cfg.AccountSID, s.cfg.AuthToken, in)
}

// SendInbound is the package-level form for callers without a Server.
func SendInbound(ctx context.Context, webhookURL, accountSID, authToken string, in Inbound) (InboundReply, error) {
	if in.MessageSID == "" {
		in.MessageSID = newSID("SM")
	}
	form := url.Values{
		"MessageSid": {in.MessageSID}, "SmsSid": {in.MessageSID}, "SmsMessageSid": {in.MessageSID},
		"AccountSid": {accountSID}, "From": {in.From}, "To": {in.To}, "Body": {in.Body},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, strings.NewReader(form.Encode()))
	if err != nil {
		return InboundReply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", Signature(authToken, webhookURL, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return InboundReply{}, fmt.Errorf("twiliosim: inbound to %s: %w", webhookURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return InboundReply{Status: resp.StatusCode, Body: string(b)}, err
}

// Signature computes X-Twilio-Signature for a form POST: base64 of
// HMAC-SHA1(authToken, url followed by each parameter name and value, names
// sorted).
func Signature(authToken, webhookURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(webhookURL)
	for _, k := range keys {
		for _, v := range form[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	m := hmac.New(sha1.New, []byte(authToken))
	m.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
