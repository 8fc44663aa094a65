package sms_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keyresponse/runbook/integrations/sms"
	"github.com/keyresponse/runbook/integrations/sms/twiliosim"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "tok0123456789abcdef0123456789abcd"
	twilioNum = "+15005550006"
)

func startSim(t *testing.T) *twiliosim.Server {
	t.Helper()
	s, err := twiliosim.Start(twiliosim.Config{AccountSID: testSID, AuthToken: testToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newClient(t *testing.T, baseURL, token string) *sms.Client {
	t.Helper()
	c, err := sms.New(sms.Config{
		Credentials: sms.Credentials{AccountSID: testSID, AuthToken: token},
		From:        twilioNum,
		BaseURL:     baseURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testRoster() *sms.Roster {
	return &sms.Roster{
		People: []sms.Person{
			{Name: "alice", Phone: "+4915100000001", Role: "sre"},
			{Name: "bob", Phone: "+4915100000002", Role: "security"},
			{Name: "carol", Phone: "+4915100000003", Role: "sre"},
		},
		Escalation: []string{"carol", "alice", "bob"},
	}
}

// newHTTPServer serves h on 127.0.0.1 and returns its URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/sms/inbound"
}
