package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/workflows"
)

// Given `runbook dev`'s stack with the shipped runbooks,
// When Alertmanager posts a firing key_leaked alert for the demo bot,
// Then without the bridge's token (or with a wrong one) the bridge answers
// 401 and nothing reaches BREACH — no incident; with the token from
// <home>/alertmanager-token (mode 0600, provisioned on first start) the
// event is published and contain-key-breach starts. The metrics listener
// does not serve the bridge, and the token is never in the console.
func TestE2E_AlertmanagerBridgeNeedsTheToken(t *testing.T) {
	home := t.TempDir()
	console := &lockedBuffer{}
	books, err := (&globals{}).triggerBooks()
	if err != nil {
		t.Fatal(err)
	}
	stack, err := startDevStack(context.Background(), devOptions{home: home, taskQueue: "runbook", console: console, identity: "e2e", books: books})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	acct, _ := stack.exchange.demo.Find("binance")
	keyID := acct.Bot.ID

	tokenFile := alertmanagerTokenFile(home)
	st, err := os.Stat(tokenFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v, mode %v (want 0600)", tokenFile, err, st.Mode().Perm())
	}
	raw, _ := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(raw))
	if stack.bridge.TokenAt() != tokenFile {
		t.Fatalf("the stack says the token is at %q, want %s", stack.bridge.TokenAt(), tokenFile)
	}

	body := fmt.Sprintf(`{"version":"4","receiver":"keyresponse","status":"firing","alerts":[{"status":"firing",
		"labels":{"alertname":"KeyLeaked","kind":"key_leaked","bot":"bot-1","exchange":"binance","key_id":%q,"severity":"critical"},
		"startsAt":%q,"fingerprint":"f00d"}]}`, keyID, time.Now().UTC().Format(time.RFC3339))
	post := func(url, auth string) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	breachMsgs := func() uint64 {
		s, err := stack.events.js.Stream(context.Background(), ingest.StreamBreach)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}

	// The metrics listener (exposed to Prometheus) has no bridge.
	if code, _, out := post(stack.http.URL()+"/alertmanager", "Bearer "+token); code == http.StatusOK {
		t.Fatalf("the metrics listener serves the bridge: %d %s", code, out)
	}
	for name, auth := range map[string]string{"no token": "", "wrong token": "Bearer not-the-token", "basic": "Basic " + token} {
		code, h, out := post(stack.bridge.URL(), auth)
		if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d (WWW-Authenticate %q) %s", name, code, h.Get("WWW-Authenticate"), out)
		}
	}
	if n := breachMsgs(); n != 0 {
		t.Fatalf("unauthenticated posts put %d events on BREACH", n)
	}

	code, _, out := post(stack.bridge.URL(), "Bearer "+token)
	if code != http.StatusOK || !strings.Contains(out, `"published":["`) {
		t.Fatalf("with the token: %d %s", code, out)
	}
	id := "contain-key-breach:bot-1:" + keyID
	c.waitFor(id, "the incident to start", func(workflows.IncidentState) bool { return true })
	if strings.Contains(console.String(), token) {
		t.Fatal("the bridge token appears in the console output")
	}
}
