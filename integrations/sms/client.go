package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// MaxBody is Twilio's limit for one message body (characters).
const MaxBody = 1600

// Config configures a Client. Credentials come from CredentialsFromEnv or
// CredentialsFromStore, never from runbook params.
type Config struct {
	Credentials Credentials
	// From is the sender number (E.164); or set MessagingServiceSID and
	// Twilio picks a sender from the service's pool.
	From                string
	MessagingServiceSID string
	// BaseURL replaces https://api.twilio.com (scheme, host and an optional
	// path prefix), e.g. twiliosim's URL. Empty: Twilio.
	BaseURL string
	// Timeout bounds one HTTP request (default 10s, twilio-go's own).
	Timeout time.Duration
	// Transport is the base HTTP transport (default http.DefaultTransport).
	Transport http.RoundTripper
}

// Message is what Twilio reports about one message.
type Message struct {
	SID          string
	To           string
	From         string
	Body         string
	Status       string // queued, sending, sent, delivered, undelivered, failed, …
	ErrorCode    int
	ErrorMessage string
}

// Sender is what notify.sms needs; *Client implements it.
type Sender interface {
	Send(ctx context.Context, to, body string) (Message, error)
	Fetch(ctx context.Context, sid string) (Message, error)
}

// Client sends SMS with twilio-go.
type Client struct {
	cfg    Config
	target *url.URL
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Credentials.Validate(); err != nil {
		return nil, err
	}
	if cfg.From == "" && cfg.MessagingServiceSID == "" {
		return nil, errors.New("sms: set a From number or a MessagingServiceSID")
	}
	if cfg.From != "" && !ValidPhone(cfg.From) {
		return nil, fmt.Errorf("sms: From %q is not an E.164 number", cfg.From)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	c := &Client{cfg: cfg}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("sms: base URL %q must be http(s)://host[:port]", cfg.BaseURL)
		}
		c.target = u
	}
	return c, nil
}

// rest builds a twilio-go client for one call. It is cheap, and a fresh
// transport per call is what lets the call carry its context and report
// its own response status (see callTransport).
func (c *Client) rest(ctx context.Context) (*twilio.RestClient, *callTransport) {
	tr := &callTransport{ctx: ctx, base: c.cfg.Transport, target: c.target}
	// With our own client.Client twilio-go ignores ClientParams'
	// Username/Password: credentials and account SID go on the client.
	base := &client.Client{
		Credentials: client.NewCredentials(c.cfg.Credentials.AccountSID, c.cfg.Credentials.AuthToken),
		HTTPClient: &http.Client{
			Transport: tr,
			Timeout:   c.cfg.Timeout,
			// As twilio-go's default client: never follow redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	base.SetAccountSid(c.cfg.Credentials.AccountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: base}), tr
}

// Send texts body to the E.164 number to. Twilio answers "queued": delivery
// comes later (Fetch reads it).
func (c *Client) Send(ctx context.Context, to, body string) (Message, error) {
	if !ValidPhone(to) {
		return Message{}, &Error{Op: "send", Kind: KindRecipient, Code: 21211, Message: "not an E.164 number"}
	}
	p := &openapi.CreateMessageParams{}
	p.SetTo(to)
	p.SetBody(body)
	if c.cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(c.cfg.MessagingServiceSID)
	}
	if c.cfg.From != "" {
		p.SetFrom(c.cfg.From)
	}
	rc, tr := c.rest(ctx)
	m, err := rc.Api.CreateMessage(p)
	if err != nil {
		seen := tr.observed()
		if seen.status >= 200 && seen.status < 300 {
			// Twilio accepted the message but its answer could not be
			// read. Reporting a retryable error would text the person
			// twice; report the send with an unknown SID instead.
			return Message{To: to, Body: body, Status: StatusUnknown}, nil
		}
		return Message{}, classify("send", err, seen)
	}
	return fromAPI(m), nil
}

// StatusUnknown marks a message Twilio accepted whose answer was unreadable.
const StatusUnknown = "unknown"

// Fetch reads a message's current status.
func (c *Client) Fetch(ctx context.Context, sid string) (Message, error) {
	rc, tr := c.rest(ctx)
	m, err := rc.Api.FetchMessage(sid, nil)
	if err != nil {
		return Message{}, classify("fetch", err, tr.observed())
	}
	return fromAPI(m), nil
}

func fromAPI(m *openapi.ApiV2010Message) Message {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	out := Message{SID: str(m.Sid), To: str(m.To), From: str(m.From), Body: str(m.Body),
		Status: str(m.Status), ErrorMessage: str(m.ErrorMessage)}
	if m.ErrorCode != nil {
		out.ErrorCode = *m.ErrorCode
	}
	return out
}

// DeliveryFailed reports a final status in which the person got nothing.
func DeliveryFailed(status string) bool {
	switch status {
	case "failed", "undelivered", "canceled":
		return true
	}
	return false
}

// Delivered reports a status that confirms the handset got the message.
func Delivered(status string) bool { return status == "delivered" || status == "read" }
