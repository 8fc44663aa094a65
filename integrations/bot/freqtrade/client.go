// Package freqtrade controls a freqtrade bot through its REST API (/api/v1).
//
// Authentication follows freqtrade: POST /token/login with HTTP Basic gives
// an access token (15 min) and a refresh token (30 days); a 401 refreshes,
// then logs in again; a bot whose API has no token endpoint is driven with
// Basic auth on every call.
//
// freqtrade rate-limits its control endpoints (5 calls per 60 s each in
// recent versions), so nothing here polls a control endpoint: verification
// reads /show_config (not limited) a bounded number of times.
//
// Running a bot for this: start freqtrade with its main config and the
// secrets file as a second config, e.g.
// `freqtrade trade --config config.json --config secrets.json`, keep the
// exchange key and secret out of config.json, leave "initial_state" at its
// default "stopped" (a reload rebuilds the bot in that state; Controller
// puts it back into the state it had, but a bot that comes back "running"
// could trade for a moment first), and enable "api_server" with a
// username, password and jwt_secret_key.
package freqtrade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyresponse/runbook/integrations/bot"
)

const apiPrefix = "/api/v1"

// defaultRateLimitWait is used when a 429 carries no Retry-After: the
// limiter's window is 60 s.
const defaultRateLimitWait = 60 * time.Second

// client is an authenticated HTTP client for one bot's API.
type client struct {
	botID    string
	base     string
	user     string
	password string
	http     *http.Client

	mu        sync.Mutex
	access    string
	refresh   string
	basicOnly bool
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// call sends one request and decodes a 2xx JSON answer into out (if
// non-nil). It authenticates first and re-authenticates once on 401.
func (c *client) call(ctx context.Context, op, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return bot.Errorf(bot.KindInvalid, c.botID, op, "encode request: %v", err)
		}
		body = b
	}
	if err := c.ensureAuth(ctx, op); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		status, hdr, resp, err := c.send(ctx, method, path, body, c.authHeader())
		if err != nil {
			return &bot.Error{Kind: bot.KindUnavailable, Bot: c.botID, Op: op, Message: method + " " + path, Err: err}
		}
		if status == http.StatusUnauthorized && attempt == 0 && !c.isBasicOnly() {
			// A 401 is raised before the handler runs, so repeating the
			// request after re-authenticating cannot repeat its effect.
			if err := c.reauth(ctx, op); err != nil {
				return err
			}
			continue
		}
		return c.decode(op, method, path, status, hdr, resp, out)
	}
}

func (c *client) decode(op, method, path string, status int, hdr http.Header, resp []byte, out any) error {
	switch {
	case status >= 200 && status < 300:
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(resp, out); err != nil {
			return &bot.Error{Kind: bot.KindUnavailable, Bot: c.botID, Op: op, Message: "unreadable answer to " + path, Err: err}
		}
		return nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return bot.Errorf(bot.KindAuth, c.botID, op, "%s %s: %d %s", method, path, status, apiMessage(resp))
	case status == http.StatusTooManyRequests:
		return &bot.Error{Kind: bot.KindRateLimited, Bot: c.botID, Op: op, RetryAfter: retryAfter(hdr),
			Message: fmt.Sprintf("%s %s: rate limited: %s", method, path, apiMessage(resp))}
	case status == http.StatusBadGateway && apiMessage(resp) != "":
		// freqtrade answers an RPCException ("trader is not running") with
		// 502 {"error": …}: the bot is there and refused.
		return bot.Errorf(bot.KindRejected, c.botID, op, "%s %s: %s", method, path, apiMessage(resp))
	case status >= 500:
		return bot.Errorf(bot.KindUnavailable, c.botID, op, "%s %s: HTTP %d", method, path, status)
	default:
		return bot.Errorf(bot.KindRejected, c.botID, op, "%s %s: HTTP %d %s", method, path, status, apiMessage(resp))
	}
}

func (c *client) send(ctx context.Context, method, path string, body []byte, auth string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+apiPrefix+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}

func (c *client) basicHeader() string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(c.user, c.password)
	return req.Header.Get("Authorization")
}

func (c *client) authHeader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.basicOnly || c.access == "" {
		return c.basicHeader()
	}
	return "Bearer " + c.access
}

func (c *client) isBasicOnly() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.basicOnly
}

func (c *client) ensureAuth(ctx context.Context, op string) error {
	c.mu.Lock()
	ready := c.basicOnly || c.access != ""
	c.mu.Unlock()
	if ready {
		return nil
	}
	return c.login(ctx, op)
}

// reauth runs after a 401: refresh the access token, else log in again.
func (c *client) reauth(ctx context.Context, op string) error {
	c.mu.Lock()
	refresh := c.refresh
	c.access = ""
	c.mu.Unlock()
	if refresh != "" {
		var t tokens
		status, _, resp, err := c.send(ctx, http.MethodPost, "/token/refresh", nil, "Bearer "+refresh)
		if err == nil && status == http.StatusOK && json.Unmarshal(resp, &t) == nil && t.AccessToken != "" {
			c.mu.Lock()
			c.access = t.AccessToken
			c.mu.Unlock()
			return nil
		}
	}
	return c.login(ctx, op)
}

func (c *client) login(ctx context.Context, op string) error {
	status, _, resp, err := c.send(ctx, http.MethodPost, "/token/login", nil, c.basicHeader())
	if err != nil {
		return &bot.Error{Kind: bot.KindUnavailable, Bot: c.botID, Op: op, Message: "login", Err: err}
	}
	switch {
	case status == http.StatusOK:
		var t tokens
		if err := json.Unmarshal(resp, &t); err != nil || t.AccessToken == "" {
			return bot.Errorf(bot.KindUnavailable, c.botID, op, "login: answer has no access token")
		}
		c.mu.Lock()
		c.access, c.refresh = t.AccessToken, t.RefreshToken
		c.mu.Unlock()
		return nil
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		// An API without the token endpoints: use Basic auth throughout.
		c.mu.Lock()
		c.basicOnly = true
		c.mu.Unlock()
		return nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return bot.Errorf(bot.KindAuth, c.botID, op, "login: username or password rejected")
	case status == http.StatusTooManyRequests:
		return bot.Errorf(bot.KindRateLimited, c.botID, op, "login: rate limited")
	default:
		return bot.Errorf(bot.KindUnavailable, c.botID, op, "login: HTTP %d", status)
	}
}

// apiMessage pulls freqtrade's error text ({"detail": …} from FastAPI or
// {"error": …} from an RPCException).
func apiMessage(b []byte) string {
	var m struct {
		Detail any    `json:"detail"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	if m.Error != "" {
		return m.Error
	}
	if s, ok := m.Detail.(string); ok {
		return s
	}
	if m.Detail != nil {
		d, _ := json.Marshal(m.Detail)
		return string(d)
	}
	return ""
}

func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return defaultRateLimitWait
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
		return time.Second
	}
	return defaultRateLimitWait
}

var errNoPassword = errors.New("freqtrade: password is empty")
