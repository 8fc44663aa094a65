package sms_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
)

// recorder is a Responder that remembers its calls.
type recorder struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (r *recorder) note(kind, code, who string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, kind+" "+code+" "+who)
	return r.fail
}

func (r *recorder) Approve(_ context.Context, a sms.Answer) error {
	return r.note("approve", a.Code, a.Identity)
}
func (r *recorder) Ack(_ context.Context, a sms.Answer) error {
	return r.note("ack", a.Code, a.Identity)
}
func (r *recorder) Deny(_ context.Context, a sms.Answer) error {
	return r.note("deny", a.Code, a.Identity)
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

type hook struct {
	url   string
	acks  *sms.MemoryStore
	resp  *recorder
	code  string
	alice sms.Person
}

func startWebhook(t *testing.T) hook {
	t.Helper()
	acks := sms.NewMemoryStore()
	code, _ := sms.ApprovalCode([]byte("0123456789abcdef0123456789abcdef"), "inc-7", "run-1", "ask")
	acks.Expect(context.Background(), sms.Pending{Code: code, Incident: "inc-7", Run: "run-1", Step: "ask", Gate: "approve_unfreeze",
		Reply: sms.ReplyApprove, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	resp := &recorder{}
	wh, err := sms.NewWebhook(sms.WebhookConfig{AuthToken: testToken, Roster: testRoster(), Acks: acks, Responder: resp})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wh) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return hook{url: srv.URL + "/sms/inbound", acks: acks, resp: resp, code: code, alice: testRoster().People[0]}
}

func inbound(t *testing.T, url, token string, in twiliosim.Inbound) twiliosim.InboundReply {
	t.Helper()
	if in.To == "" {
		in.To = twilioNum
	}
	r, err := twiliosim.SendInbound(context.Background(), url, testSID, token, in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWebhookAcceptsSignedApproveFromRoster(t *testing.T) {
	h := startWebhook(t)
	r := inbound(t, h.url, testToken, twiliosim.Inbound{From: h.alice.Phone, Body: " approve " + strings.ToLower(h.code) + " "})
	if r.Status != 200 || !strings.Contains(r.Body, "<Response><Message>Approval "+h.code+" recorded for incident inc-7") {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
	if got := h.resp.got(); len(got) != 1 || got[0] != "approve "+h.code+" alice" {
		t.Fatalf("responder calls %v", got)
	}
	a, ok, _ := h.acks.Answer(context.Background(), h.code)
	if !ok || a.Kind != sms.AnswerApprove || a.Identity != "alice" {
		t.Fatalf("answer not recorded: %+v", a)
	}
}

func TestWebhookDoesNotApplyARetriedMessageTwice(t *testing.T) {
	h := startWebhook(t)
	in := twiliosim.Inbound{From: h.alice.Phone, Body: "ACK " + h.code, MessageSID: "SMretried000000000000000000000000"}
	inbound(t, h.url, testToken, in)
	r := inbound(t, h.url, testToken, in)
	if r.Status != 200 || !strings.Contains(r.Body, "already recorded") || len(h.resp.got()) != 1 {
		t.Fatalf("HTTP %d %s; calls %v", r.Status, r.Body, h.resp.got())
	}
}

func TestWebhookRejects(t *testing.T) {
	cases := []struct {
		name   string
		token  string
		from   string
		body   string
		status int
		reply  string
	}{
		{name: "bad signature", token: "someoneelsestoken", from: "+4915100000001", body: "APPROVE %s", status: 403},
		{name: "unknown number", from: "+4915199999999", body: "APPROVE %s", status: 403},
		{name: "malformed body", from: "+4915100000001", body: "yes approve it", status: 200, reply: "Not understood"},
		{name: "verb without code", from: "+4915100000001", body: "APPROVE", status: 200, reply: "Not understood"},
		{name: "code never issued", from: "+4915100000001", body: "APPROVE 234567", status: 200, reply: "Unknown code 234567"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := startWebhook(t)
			token := testToken
			if c.token != "" {
				token = c.token
			}
			body := c.body
			if strings.Contains(body, "%s") {
				body = strings.ReplaceAll(body, "%s", h.code)
			}
			r := inbound(t, h.url, token, twiliosim.Inbound{From: c.from, Body: body})
			if r.Status != c.status || !strings.Contains(r.Body, c.reply) {
				t.Fatalf("HTTP %d %q; want %d containing %q", r.Status, r.Body, c.status, c.reply)
			}
			if got := h.resp.got(); len(got) != 0 {
				t.Fatalf("responder called: %v", got)
			}
			if _, ok, _ := h.acks.Answer(context.Background(), h.code); ok {
				t.Fatal("answer recorded")
			}
		})
	}
}

// A signature is bound to the URL and every field: the same signature over
// a changed body fails, while the original request passes.
func TestWebhookSignatureCoversTheBody(t *testing.T) {
	h := startWebhook(t)
	signed := url.Values{"MessageSid": {"SM1"}, "From": {h.alice.Phone}, "To": {twilioNum}, "Body": {"ACK " + h.code}}
	sig := twiliosim.Signature(testToken, h.url, signed)
	send := func(form url.Values) int {
		req, _ := http.NewRequest(http.MethodPost, h.url, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tampered := url.Values{"MessageSid": {"SM1"}, "From": {h.alice.Phone}, "To": {twilioNum}, "Body": {"DENY " + h.code}}
	if code := send(tampered); code != 403 || len(h.resp.got()) != 0 {
		t.Fatalf("tampered body: HTTP %d, calls %v", code, h.resp.got())
	}
	if code := send(signed); code != 200 || len(h.resp.got()) != 1 {
		t.Fatalf("original body: HTTP %d, calls %v", code, h.resp.got())
	}
}

func TestWebhookReportsResponderFailure(t *testing.T) {
	h := startWebhook(t)
	h.resp.fail = errors.New("no approval gate is waiting in incident inc-7")
	r := inbound(t, h.url, testToken, twiliosim.Inbound{From: h.alice.Phone, Body: "APPROVE " + h.code})
	if r.Status != 200 || !strings.Contains(r.Body, "could not be applied: no approval gate is waiting") {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
	// Recorded anyway: the person answered, so escalation stops.
	if _, ok, _ := h.acks.Answer(context.Background(), h.code); !ok {
		t.Fatal("answer not recorded")
	}
}

// An expired code is refused with a reply that says so and how to answer
// instead; nothing is recorded and nothing is decided.
func TestWebhookRefusesAnExpiredCode(t *testing.T) {
	acks := sms.NewMemoryStore()
	issued := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	acks.Expect(context.Background(), sms.Pending{Code: "K7M2QX", Incident: "inc-7", Run: "run-1", Step: "ask", Gate: "approve_unfreeze",
		Reply: sms.ReplyApprove, IssuedAt: issued, ExpiresAt: issued.Add(15 * time.Minute)})
	resp := &recorder{}
	now := issued.Add(16 * time.Minute)
	wh, err := sms.NewWebhook(sms.WebhookConfig{AuthToken: testToken, Roster: testRoster(), Acks: acks, Responder: resp,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	url := newHTTPServer(t, wh)
	r := inbound(t, url, testToken, twiliosim.Inbound{From: testRoster().People[0].Phone, Body: "APPROVE K7M2QX"})
	if r.Status != 200 || !strings.Contains(r.Body, "Code K7M2QX expired at 10:15 UTC") ||
		!strings.Contains(r.Body, "runbook approve inc-7 --step approve_unfreeze") {
		t.Fatalf("HTTP %d %s", r.Status, r.Body)
	}
	if len(resp.got()) != 0 {
		t.Fatalf("responder called: %v", resp.got())
	}
	if _, ok, _ := acks.Answer(context.Background(), "K7M2QX"); ok {
		t.Fatal("answer to an expired code recorded")
	}
	// A minute before expiry the same text goes through.
	now = issued.Add(14 * time.Minute)
	if r := inbound(t, url, testToken, twiliosim.Inbound{From: testRoster().People[0].Phone, Body: "APPROVE K7M2QX"}); r.Status != 200 || len(resp.got()) != 1 {
		t.Fatalf("before expiry: HTTP %d %s; calls %v", r.Status, r.Body, resp.got())
	}
}
