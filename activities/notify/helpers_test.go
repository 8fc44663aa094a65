package notify_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/notify"
	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
	"github.com/keyresponse/runbook/runbooks"
)

const (
	sid       = "AC0123456789abcdef0123456789abcdef"
	token     = "tok0123456789abcdef0123456789abcd"
	twilioNum = "+15005550006"
	alice     = "+4915100000001"
	bob       = "+4915100000002"
	carol     = "+4915100000003"
)

var codeKey = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable time source for the escalation tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	sim    *twiliosim.Server
	store  *sms.MemoryStore
	roster *sms.Roster
	clock  *clock
	deps   notify.SMSDeps
	action activities.Action
}

// newFixture starts twiliosim and builds notify.sms on a real twilio-go
// client presenting clientToken (a test may present the wrong one).
func newFixture(t *testing.T, clientToken string) *fixture {
	t.Helper()
	sim, err := twiliosim.Start(twiliosim.Config{AccountSID: sid, AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	client, err := sms.New(sms.Config{Credentials: sms.Credentials{AccountSID: sid, AuthToken: clientToken}, From: twilioNum, BaseURL: sim.URL()})
	if err != nil {
		t.Fatal(err)
	}
	roster := &sms.Roster{
		People: []sms.Person{
			{Name: "alice", Phone: alice, Role: "sre"},
			{Name: "bob", Phone: bob, Role: "security"},
			{Name: "carol", Phone: carol, Role: "sre"},
		},
		Escalation: []string{"alice", "bob", "carol"},
		AckTimeout: sms.Duration(5 * time.Minute),
	}
	if err := roster.Validate(); err != nil {
		t.Fatal(err)
	}
	f := &fixture{sim: sim, store: sms.NewMemoryStore(), roster: roster,
		clock: &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}}
	f.deps = notify.SMSDeps{Sender: client, Roster: roster, CodeKey: codeKey, Sent: f.store, Acks: f.store, Now: f.clock.Now}
	f.action = notify.SMS(f.deps)
	return f
}

func request(params map[string]any) runbooks.ActionRequest {
	return runbooks.ActionRequest{IncidentID: "inc-bot7-breach", Runbook: "contain-key-breach", StepID: "page_oncall",
		Action: "notify.sms", Params: params}
}

func (f *fixture) run(t *testing.T, params map[string]any) (runbooks.ActionResult, error) {
	t.Helper()
	return f.action.Run(context.Background(), request(params))
}

// webhook serves the inbound-SMS handler on 127.0.0.1 over the fixture's
// store, answering every call with success.
func (f *fixture) webhook(t *testing.T) string {
	t.Helper()
	wh, err := sms.NewWebhook(sms.WebhookConfig{AuthToken: token, Roster: f.roster, Acks: f.store, Responder: okResponder{}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wh)
	t.Cleanup(srv.Close)
	return srv.URL + "/sms"
}

type okResponder struct{}

func (okResponder) Approve(context.Context, sms.Answer) error { return nil }
func (okResponder) Ack(context.Context, sms.Answer) error     { return nil }
func (okResponder) Deny(context.Context, sms.Answer) error    { return nil }

func (f *fixture) to(number string) []twiliosim.Message { return f.sim.MessagesTo(number) }
