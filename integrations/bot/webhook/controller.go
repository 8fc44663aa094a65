package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyresponse/runbook/integrations/bot"
)

// Options configure a Controller.
type Options struct {
	BotID      string
	URL        string
	SigningKey []byte
	Exchange   string       // credentials for another exchange are refused
	HTTPClient *http.Client // default: 10 s timeout
	Now        func() time.Time
}

// Controller sends signed commands to one bot. It implements
// bot.Controller.
type Controller struct {
	o Options
	u *url.URL
}

var _ bot.Controller = (*Controller)(nil)

// New builds a Controller.
func New(o Options) (*Controller, error) {
	if o.BotID == "" || o.URL == "" {
		return nil, errors.New("webhook: bot id and url are required")
	}
	if len(o.SigningKey) < 16 {
		return nil, errors.New("webhook: signing key must be at least 16 bytes")
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: url %q is not an http(s) URL", o.URL)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Controller{o: o, u: u}, nil
}

// Freeze asks the bot to stop trading; the answer must say it is halted.
func (c *Controller) Freeze(ctx context.Context, opts bot.FreezeOptions) (bot.Status, error) {
	st, err := c.command(ctx, Request{Action: ActionFreeze, ForceExit: opts.ForceExit})
	if err != nil {
		return st, err
	}
	if !st.State.Halted() {
		return st, bot.Errorf(bot.KindNotVerified, c.o.BotID, ActionFreeze, "bot answered state %q", st.State)
	}
	return st, nil
}

// Unfreeze asks the bot to trade again; the answer must say running.
func (c *Controller) Unfreeze(ctx context.Context) (bot.Status, error) {
	st, err := c.command(ctx, Request{Action: ActionUnfreeze})
	if err != nil {
		return st, err
	}
	if st.State != bot.Running {
		return st, bot.Errorf(bot.KindNotVerified, c.o.BotID, ActionUnfreeze, "bot answered state %q", st.State)
	}
	return st, nil
}

// Status asks the bot for its state.
func (c *Controller) Status(ctx context.Context) (bot.Status, error) {
	return c.command(ctx, Request{Action: ActionStatus})
}

// Reload asks the bot to re-read its configuration.
func (c *Controller) Reload(ctx context.Context) error {
	_, err := c.command(ctx, Request{Action: ActionReload})
	return err
}

// DeliverCredentials sends the credentials, only over https or to a
// loopback address. A bot that answers with a fingerprint must answer the
// fingerprint of what we sent.
func (c *Controller) DeliverCredentials(ctx context.Context, cr bot.Credentials) error {
	if err := (bot.BotConfig{ID: c.o.BotID, Exchange: c.o.Exchange}).CheckExchange(cr); err != nil {
		return err
	}
	if !ConfidentialURL(c.u) {
		return bot.Errorf(bot.KindInvalid, c.o.BotID, ActionDeliver,
			"refusing to send credentials over plain http to %s: use https (or a loopback address)", c.u.Host)
	}
	req := Request{Action: ActionDeliver, Credentials: &wireCredentials{
		Exchange: cr.Exchange, APIKey: cr.APIKey, Secret: cr.Secret, Passphrase: cr.Passphrase}}
	resp, err := c.send(ctx, req)
	if err != nil {
		return err
	}
	if resp.Fingerprint != "" && resp.Fingerprint != cr.Fingerprint() {
		return bot.Errorf(bot.KindNotVerified, c.o.BotID, ActionDeliver,
			"bot reports credentials %s, sent %s", resp.Fingerprint, cr.Fingerprint())
	}
	return nil
}

// ConfidentialURL: https, or a loopback host (the secret never leaves the
// machine).
func ConfidentialURL(u *url.URL) bool {
	if u.Scheme == "https" {
		return true
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Controller) command(ctx context.Context, req Request) (bot.Status, error) {
	resp, err := c.send(ctx, req)
	if err != nil {
		return bot.Status{}, err
	}
	return bot.Status{State: bot.ParseState(resp.State), OpenTrades: resp.OpenTrades, Detail: resp.Detail}, nil
}

func (c *Controller) send(ctx context.Context, req Request) (Response, error) {
	op := req.Action
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return Response{}, err
	}
	req.Bot = c.o.BotID
	req.Incident = bot.IncidentFrom(ctx)
	req.Nonce = hex.EncodeToString(nonce)
	req.Timestamp = c.o.Now().Unix()
	body, err := json.Marshal(req)
	if err != nil {
		return Response{}, bot.Errorf(bot.KindInvalid, c.o.BotID, op, "encode: %v", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.u.String(), bytes.NewReader(body))
	if err != nil {
		return Response{}, bot.Errorf(bot.KindInvalid, c.o.BotID, op, "request: %v", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(HeaderTimestamp, strconv.FormatInt(req.Timestamp, 10))
	hr.Header.Set(HeaderSignature, Sign(c.o.SigningKey, req.Timestamp, body))
	res, err := c.o.HTTPClient.Do(hr)
	if err != nil {
		// Name the host only: the URL's path or query may carry a token.
		return Response{}, &bot.Error{Kind: bot.KindUnavailable, Bot: c.o.BotID, Op: op, Message: "POST " + c.u.Host, Err: errors.Unwrap(err)}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var out Response
	_ = json.Unmarshal(b, &out)
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		if out.Error != "" {
			return out, bot.Errorf(bot.KindRejected, c.o.BotID, op, "%s", out.Error)
		}
		return out, nil
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return out, bot.Errorf(bot.KindAuth, c.o.BotID, op, "bot refused the signature: HTTP %d %s", res.StatusCode, out.Error)
	case res.StatusCode == http.StatusTooManyRequests:
		ra := 10 * time.Second
		if n, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After"))); err == nil && n >= 0 {
			ra = time.Duration(n) * time.Second
		}
		return out, &bot.Error{Kind: bot.KindRateLimited, Bot: c.o.BotID, Op: op, RetryAfter: ra, Message: "rate limited"}
	case res.StatusCode >= 500:
		return out, bot.Errorf(bot.KindUnavailable, c.o.BotID, op, "HTTP %d %s", res.StatusCode, out.Error)
	default:
		return out, bot.Errorf(bot.KindRejected, c.o.BotID, op, "HTTP %d %s", res.StatusCode, out.Error)
	}
}
