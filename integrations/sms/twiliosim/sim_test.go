package twiliosim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "tok0123456789abcdef0123456789abcd"
)

// syncBuffer is an io.Writer the server goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, out *syncBuffer) *twiliosim.Server {
	t.Helper()
	cfg := twiliosim.Config{AccountSID: sid, AuthToken: token}
	if out != nil {
		cfg.Out = out
	}
	s, err := twiliosim.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func post(t *testing.T, s *twiliosim.Server, user, pass, account string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+account+"/Messages.json", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("HTTP %d: body is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

func code(b map[string]any) int {
	f, _ := b["code"].(float64)
	return int(f)
}

func TestCreateChecksAuthAndFields(t *testing.T) {
	s := start(t, nil)
	good := url.Values{"To": {"+4915112345678"}, "From": {"+15005550006"}, "Body": {"hello"}}
	cases := []struct {
		name       string
		user, pass string
		account    string
		form       url.Values
		status     int
		code       int
	}{
		{"no auth", "", "", sid, good, 401, 20003},
		{"wrong token", sid, "wrong", sid, good, 401, 20003},
		{"other account in path", sid, token, "AC999", good, 404, 20404},
		{"missing To", sid, token, sid, url.Values{"From": {"+15005550006"}, "Body": {"x"}}, 400, 21604},
		{"invalid To", sid, token, sid, url.Values{"To": {"0151-123"}, "From": {"+15005550006"}, "Body": {"x"}}, 400, 21211},
		{"no sender", sid, token, sid, url.Values{"To": {"+4915112345678"}, "Body": {"x"}}, 400, 21603},
		{"no body", sid, token, sid, url.Values{"To": {"+4915112345678"}, "From": {"+15005550006"}}, 400, 21602},
		{"body too long", sid, token, sid, url.Values{"To": {"+4915112345678"}, "From": {"+15005550006"}, "Body": {strings.Repeat("x", 1601)}}, 400, 21617},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := post(t, s, c.user, c.pass, c.account, c.form)
			if status != c.status || code(body) != c.code {
				t.Fatalf("got HTTP %d code %d (%v), want %d / %d", status, code(body), body, c.status, c.code)
			}
			if body["message"] == "" || body["status"].(float64) != float64(c.status) {
				t.Fatalf("error body not in Twilio's shape: %v", body)
			}
		})
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("rejected requests recorded %d messages", n)
	}
}

func TestCreateRecordsPrintsAndFetches(t *testing.T) {
	out := &syncBuffer{}
	s := start(t, out)
	status, body := post(t, s, sid, token, sid, url.Values{"To": {"+4915112345678"}, "MessagingServiceSid": {"MG0123"}, "Body": {"bot frozen"}})
	if status != 201 {
		t.Fatalf("HTTP %d: %v", status, body)
	}
	msid, _ := body["sid"].(string)
	if !strings.HasPrefix(msid, "SM") || len(msid) != 34 || body["status"] != "queued" || body["messaging_service_sid"] != "MG0123" {
		t.Fatalf("create answer: %v", body)
	}
	msgs := s.MessagesTo("+4915112345678")
	if len(msgs) != 1 || msgs[0].SID != msid || msgs[0].Body != "bot frozen" {
		t.Fatalf("recorded: %+v", msgs)
	}
	if !strings.Contains(out.String(), "+4915112345678") || !strings.Contains(out.String(), "bot frozen") {
		t.Fatalf("console line: %q", out.String())
	}

	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/2010-04-01/Accounts/"+sid+"/Messages/"+msid+".json", nil)
	req.SetBasicAuth(sid, token)
	status, body = do(t, req)
	if status != 200 || body["status"] != "delivered" || body["sid"] != msid {
		t.Fatalf("fetch: HTTP %d %v", status, body)
	}
	req, _ = http.NewRequest(http.MethodGet, s.URL()+"/2010-04-01/Accounts/"+sid+"/Messages/SMnope.json", nil)
	req.SetBasicAuth(sid, token)
	if status, body = do(t, req); status != 404 || code(body) != 20404 {
		t.Fatalf("fetch unknown: HTTP %d %v", status, body)
	}
}

func TestFaultsApplyToTheNextRequestsOnly(t *testing.T) {
	s := start(t, nil)
	form := url.Values{"To": {"+4915112345678"}, "From": {"+15005550006"}, "Body": {"x"}}
	s.FailNext(twiliosim.ServerError, 2)
	s.FailNext(twiliosim.TooManyRequests, 1)
	s.FailNext(twiliosim.Down, 1)
	for i, want := range []int{500, 500} {
		if status, body := post(t, s, sid, token, sid, form); status != want || code(body) != 20500 {
			t.Fatalf("request %d: HTTP %d %v", i, status, body)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sid, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("429 fault: HTTP %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	req, _ = http.NewRequest(http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sid, token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("down fault answered HTTP %d", resp.StatusCode)
	}
	if status, body := post(t, s, sid, token, sid, form); status != 201 {
		t.Fatalf("after the faults: HTTP %d %v", status, body)
	}
	if len(s.Messages()) != 1 || s.Requests() != 5 {
		t.Fatalf("messages %d, requests %d; want 1 and 5", len(s.Messages()), s.Requests())
	}
}

func TestOptedOutAndUndeliverable(t *testing.T) {
	s := start(t, nil)
	s.OptOut("+4915100000001")
	s.Undeliverable("+4915100000002")
	if status, body := post(t, s, sid, token, sid, url.Values{"To": {"+4915100000001"}, "From": {"+15005550006"}, "Body": {"x"}}); status != 400 || code(body) != 21610 {
		t.Fatalf("opted out: HTTP %d %v", status, body)
	}
	status, body := post(t, s, sid, token, sid, url.Values{"To": {"+4915100000002"}, "From": {"+15005550006"}, "Body": {"x"}})
	if status != 201 {
		t.Fatalf("undeliverable create: HTTP %d %v", status, body)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/2010-04-01/Accounts/"+sid+"/Messages/"+body["sid"].(string)+".json", nil)
	req.SetBasicAuth(sid, token)
	if status, body = do(t, req); body["status"] != "undelivered" || body["error_code"].(float64) != 30003 {
		t.Fatalf("undeliverable fetch: HTTP %d %v", status, body)
	}
}
