// Package httpreq is the http.request action: a call to an HTTP endpoint on
// an operator-approved host (a runbook must not become a way to reach
// arbitrary hosts from the worker's network).
package httpreq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
)

// MaxBody caps the response body kept in the step's outputs.
const MaxBody = 4096

// Params are http.request's params.
type Params struct {
	Method       string            `json:"method"`
	URL          string            `json:"url"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         string            `json:"body,omitempty"`
	ExpectStatus int               `json:"expect_status"`
}

// Validate checks method and URL shape.
func (p *Params) Validate() error {
	switch p.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete:
	default:
		return fmt.Errorf("method %q is not one of GET, POST, PUT, DELETE", p.Method)
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q is not an absolute http(s) URL", p.URL)
	}
	return nil
}

// Spec declares http.request.
var Spec = runbooks.ActionSpec{
	Name:        "http.request",
	Description: "Call an HTTP endpoint on a host listed in the worker's http.allowed_hosts. Sends Idempotency-Key: <incident>/<step>.",
	Params: []runbooks.ParamSpec{
		{Name: "method", Type: runbooks.ParamString, Default: "GET", Enum: []string{"GET", "POST", "PUT", "DELETE"}},
		{Name: "url", Type: runbooks.ParamString, Required: true},
		{Name: "headers", Type: runbooks.ParamMap},
		{Name: "body", Type: runbooks.ParamString},
		{Name: "expect_status", Type: runbooks.ParamInt, Default: 200},
	},
	Outputs:    []string{"status", "body"},
	SideEffect: runbooks.Irreversible,
	Needs:      []string{"http.allowed_hosts"},
	Example:    "- id: page\n  action: http.request\n  with: {method: POST, url: \"https://hooks.example.org/x\", body: \"{}\"}",
}

// Config restricts where requests may go.
type Config struct {
	// AllowedHosts are host or host:port entries; a host entry allows any port.
	AllowedHosts []string
	Client       *http.Client
}

func (c Config) allowed(u *url.URL) bool {
	host := u.Hostname()
	for _, h := range c.AllowedHosts {
		if strings.EqualFold(h, u.Host) || strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// New returns the http.request action.
func New(cfg Config) activities.Action {
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return activities.Typed(Spec, func(ctx context.Context, req runbooks.ActionRequest, p Params) (runbooks.ActionResult, error) {
		u, _ := url.Parse(p.URL)
		if !cfg.allowed(u) {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrForbiddenHost,
				fmt.Errorf("host %q is not in http.allowed_hosts %v", u.Host, cfg.AllowedHosts))
		}
		hreq, err := http.NewRequestWithContext(ctx, p.Method, p.URL, strings.NewReader(p.Body))
		if err != nil {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, err)
		}
		for k, v := range p.Headers {
			hreq.Header.Set(k, v)
		}
		// Lets the receiver drop the duplicates that retries can cause.
		hreq.Header.Set("Idempotency-Key", req.IncidentID+"/"+req.StepID)
		resp, err := client.Do(hreq)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) || errors.Is(err, io.EOF) {
				return runbooks.ActionResult{}, activities.Retryable(activities.ErrNetwork, err)
			}
			return runbooks.ActionResult{}, activities.Retryable(activities.ErrNetwork, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
		if resp.StatusCode != p.ExpectStatus {
			err := fmt.Errorf("%s %s: status %d, want %d", p.Method, u.Redacted(), resp.StatusCode, p.ExpectStatus)
			switch {
			case resp.StatusCode == http.StatusTooManyRequests:
				return runbooks.ActionResult{}, activities.RetryAfter(err, retryAfter(resp))
			case resp.StatusCode >= 500:
				return runbooks.ActionResult{}, activities.Retryable(activities.ErrUnavailable, err)
			default:
				return runbooks.ActionResult{}, activities.NonRetryable("HTTPStatus", err)
			}
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{"status": resp.StatusCode, "body": string(body)},
			Summary: fmt.Sprintf("%s %s → %d", p.Method, u.Redacted(), resp.StatusCode),
		}, nil
	})
}

func retryAfter(resp *http.Response) time.Duration {
	var s int
	if _, err := fmt.Sscanf(resp.Header.Get("Retry-After"), "%d", &s); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}
