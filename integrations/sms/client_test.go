package sms_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
)

func TestSendAndFetchThroughTwilioGo(t *testing.T) {
	sim := startSim(t)
	c := newClient(t, sim.URL(), testToken)
	m, err := c.Send(context.Background(), "+4915112345678", "bot-7 frozen")
	if err != nil {
		t.Fatal(err)
	}
	got := sim.Messages()
	if len(got) != 1 {
		t.Fatalf("sim recorded %d messages", len(got))
	}
	if got[0].SID != m.SID || got[0].To != "+4915112345678" || got[0].From != twilioNum || got[0].Body != "bot-7 frozen" {
		t.Fatalf("sim recorded %+v, client got %+v", got[0], m)
	}
	if m.Status != "queued" {
		t.Fatalf("status at send %q, want queued", m.Status)
	}
	f, err := c.Fetch(context.Background(), m.SID)
	if err != nil || f.Status != "delivered" || !sms.Delivered(f.Status) {
		t.Fatalf("fetch: %+v %v", f, err)
	}
}

func TestSendWithMessagingService(t *testing.T) {
	sim := startSim(t)
	c, err := sms.New(sms.Config{Credentials: sms.Credentials{AccountSID: testSID, AuthToken: testToken},
		MessagingServiceSID: "MG0123456789", BaseURL: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), "+4915112345678", "x"); err != nil {
		t.Fatal(err)
	}
	if m := sim.Messages()[0]; m.MessagingServiceSID != "MG0123456789" {
		t.Fatalf("service sid not sent: %+v", m)
	}
}

func TestSendErrorsAreClassified(t *testing.T) {
	cases := []struct {
		name      string
		fault     *twiliosim.Fault
		token     string
		kind      sms.ErrorKind
		retryable bool
		code      int
	}{
		{name: "wrong token", token: "wrongtoken", kind: sms.KindAuth, code: 20003},
		{name: "server error", fault: ptr(twiliosim.ServerError), kind: sms.KindUnavailable, retryable: true, code: 20500},
		{name: "rate limited", fault: ptr(twiliosim.TooManyRequests), kind: sms.KindRateLimited, retryable: true, code: 20429},
		{name: "down", fault: ptr(twiliosim.Down), kind: sms.KindNetwork, retryable: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sim := startSim(t)
			if tc.fault != nil {
				sim.FailNext(*tc.fault, 1)
			}
			token := testToken
			if tc.token != "" {
				token = tc.token
			}
			_, err := newClient(t, sim.URL(), token).Send(context.Background(), "+4915112345678", "x")
			e, ok := sms.AsError(err)
			if !ok {
				t.Fatalf("error %v (%T) is not *sms.Error", err, err)
			}
			if e.Kind != tc.kind || e.Retryable() != tc.retryable || e.Code != tc.code {
				t.Fatalf("got kind %s retryable %v code %d (%v)", e.Kind, e.Retryable(), e.Code, e)
			}
			if tc.kind == sms.KindRateLimited && e.RetryAfter != time.Second {
				t.Fatalf("Retry-After not read: %v", e.RetryAfter)
			}
			// The client itself never retries: one request per Send.
			if sim.Requests() != 1 || len(sim.Messages()) != 0 {
				t.Fatalf("requests %d, messages %d", sim.Requests(), len(sim.Messages()))
			}
		})
	}
}

func TestRecipientRefusalIsPerRecipient(t *testing.T) {
	sim := startSim(t)
	sim.OptOut("+4915100000009")
	c := newClient(t, sim.URL(), testToken)
	_, err := c.Send(context.Background(), "+4915100000009", "x")
	if e, ok := sms.AsError(err); !ok || e.Kind != sms.KindRecipient || e.Code != 21610 {
		t.Fatalf("opted-out recipient: %v", err)
	}
	_, err = c.Send(context.Background(), "0151 no", "x")
	if e, ok := sms.AsError(err); !ok || e.Kind != sms.KindRecipient {
		t.Fatalf("malformed number: %v", err)
	}
}

// A proxy in front of Twilio may answer 502 with an HTML page; twilio-go
// then reports a bare decode error, and the status must still count.
func TestNonJSONGatewayErrorIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>bad gateway</html>"))
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL, testToken).Send(context.Background(), "+4915112345678", "x")
	e, ok := sms.AsError(err)
	if !ok || e.Kind != sms.KindUnavailable || !e.Retryable() || e.Status != 502 {
		t.Fatalf("got %v", err)
	}
}

func TestSendHonoursContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newClient(t, srv.URL, testToken).Send(ctx, "+4915112345678", "x")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled send returned %v", err)
	}
}

func TestConfigChecks(t *testing.T) {
	good := sms.Credentials{AccountSID: testSID, AuthToken: testToken}
	for name, cfg := range map[string]sms.Config{
		"token with symbols": {Credentials: sms.Credentials{AccountSID: testSID, AuthToken: "a-b"}, From: twilioNum},
		"no sender":          {Credentials: good},
		"bad from":           {Credentials: good, From: "12345"},
		"bad base url":       {Credentials: good, From: twilioNum, BaseURL: "ftp://x"},
	} {
		if _, err := sms.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func ptr[T any](v T) *T { return &v }
