package sms

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// observed is what callTransport saw of the last response.
type observed struct {
	status     int
	retryAfter string
}

// callTransport serves one twilio-go call. twilio-go builds requests with
// context.Background() and a fixed https://api.twilio.com base URL, so this
// transport (1) attaches the caller's context, so a cancelled activity stops
// waiting for Twilio, (2) rewrites scheme and host (and prefixes a path) when
// a local server such as twiliosim stands in for Twilio, and (3) remembers the
// response status and Retry-After, which twilio-go's error type drops.
type callTransport struct {
	ctx    context.Context
	base   http.RoundTripper
	target *url.URL // nil: talk to Twilio itself

	mu   sync.Mutex
	seen observed
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(t.ctx)
	if t.target != nil {
		r.URL.Scheme = t.target.Scheme
		r.URL.Host = t.target.Host
		r.URL.Path = strings.TrimSuffix(t.target.Path, "/") + r.URL.Path
		r.URL.RawPath = ""
		r.Host = t.target.Host
	}
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		t.mu.Lock()
		t.seen = observed{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		t.mu.Unlock()
	}
	return resp, err
}

func (t *callTransport) observed() observed {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen
}
