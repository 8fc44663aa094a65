package ingest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/httplimits"
)

func TestAlertmanagerBridgeRefusesWithoutTheToken(t *testing.T) {
	e := newEnv(t)
	url := serveBridge(t, &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1", BearerToken: "hook-token"}, httplimits.Default)
	for name, token := range map[string]string{"no token": "", "wrong token": "hook-tokeN", "token prefix": "hook"} {
		resp, body := postAlerts(t, url, token, amPayload)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: status %d, WWW-Authenticate %q, body %s", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
	if got := breachEvents(t, e); len(got) != 0 {
		t.Fatalf("unauthenticated posts stored %d events on BREACH", len(got))
	}
}

func TestAlertmanagerBridgeWithoutAuthConfiguredRefusesEveryone(t *testing.T) {
	e := newEnv(t)
	url := serveBridge(t, &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1"}, httplimits.Default)
	if resp, body := postAlerts(t, url, "anything", amPayload); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	if got := breachEvents(t, e); len(got) != 0 {
		t.Fatalf("stored %d events", len(got))
	}
}

func TestAlertmanagerBridgeRefusesAnOversizedBody(t *testing.T) {
	e := newEnv(t)
	url := serveBridge(t, &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1", BearerToken: "t", MaxBodyBytes: 2048}, httplimits.Default)
	big := bigPayload(t, 40) // well over 2 KB, within the alerts cap
	// With a Content-Length (refused before reading) and chunked (cut by
	// the reader): both 413, naming the setting.
	for name, body := range map[string]io.Reader{"content-length": strings.NewReader(big), "chunked": io.MultiReader(strings.NewReader(big))} {
		resp, out := postAlertsReader(t, url, "t", body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), "alertmanager.max_body_bytes") {
			t.Errorf("%s: status %d body %s", name, resp.StatusCode, out)
		}
	}
	if got := breachEvents(t, e); len(got) != 0 {
		t.Fatalf("an oversized post stored %d events", len(got))
	}
}

func TestAlertmanagerBridgeRefusesTooManyAlertsWhole(t *testing.T) {
	e := newEnv(t)
	url := serveBridge(t, &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1", BearerToken: "t", MaxAlerts: 5}, httplimits.Default)
	resp, out := postAlerts(t, url, "t", bigPayload(t, 6))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), "alertmanager.max_alerts") {
		t.Fatalf("status %d body %s", resp.StatusCode, out)
	}
	if got := breachEvents(t, e); len(got) != 0 {
		t.Fatalf("a post over the alerts cap stored %d events (want none: the request is refused whole)", len(got))
	}
	// At the cap it goes through.
	if resp, out := postAlerts(t, url, "t", bigPayload(t, 5)); resp.StatusCode != http.StatusOK {
		t.Fatalf("at the cap: status %d body %s", resp.StatusCode, out)
	}
	if got := breachEvents(t, e); len(got) != 5 {
		t.Fatalf("stored %d events, want 5", len(got))
	}
}

// The old ids were "alertmanager-<fingerprint>-<startsAt>", both chosen by
// the caller: a forged alert reusing a genuine alert's fingerprint and
// startsAt took its id first and JetStream dropped the genuine one.
func TestAlertmanagerForgedFingerprintDoesNotSuppressTheGenuineAlert(t *testing.T) {
	e := newEnv(t)
	url := serveBridge(t, &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1", BearerToken: "t"}, httplimits.Default)
	alert := func(bot, kind string) string {
		return fmt.Sprintf(`{"version":"4","receiver":"keyresponse","alerts":[{"status":"firing",
			"labels":{"alertname":"KeyLeaked","kind":%q,"bot":%q},"startsAt":"2026-11-27T08:58:00Z","fingerprint":"0000000000000002"}]}`, kind, bot)
	}
	// The decoy first, then the genuine alert with the same fingerprint and startsAt.
	for _, body := range []string{alert("bot-9", "test_alert"), alert("bot-2", "key_leaked")} {
		resp, out := postAlerts(t, url, "t", body)
		var res WebhookResult
		if err := json.Unmarshal(out, &res); err != nil || resp.StatusCode != http.StatusOK || len(res.Published) != 1 {
			t.Fatalf("status %d body %s", resp.StatusCode, out)
		}
	}
	subjects := map[string]bool{}
	for _, m := range breachEvents(t, e) {
		subjects[m.Subject] = true
	}
	if !subjects["breach.bot-2.key_leaked"] || !subjects["breach.bot-9.test_alert"] {
		t.Fatalf("stored %v: the genuine alert was suppressed", subjects)
	}
}

// Two authenticated callers delivering the same alert (same labels,
// fingerprint and startsAt) are two deliveries: one caller cannot use the
// dedup key to suppress another's alert.
func TestAlertmanagerSameAlertFromTwoCallersIsStoredForEach(t *testing.T) {
	e := newEnv(t)
	bridge := &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1", BearerToken: "t"}
	var p AlertmanagerPayload
	if err := json.Unmarshal([]byte(amPayload), &p); err != nil {
		t.Fatal(err)
	}
	for _, caller := range []string{"client-cert:sha256:aa (am-1)", "client-cert:sha256:bb (am-2)"} {
		res, err := bridge.Publish(t.Context(), caller, p)
		if err != nil || len(res.Published) != 2 {
			t.Fatalf("%s: %+v %v", caller, res, err)
		}
	}
	if got := breachEvents(t, e); len(got) != 4 {
		t.Fatalf("stored %d events, want 4 (2 alerts × 2 callers)", len(got))
	}
}

// A client that sends its headers and then drips the body is cut by the
// server's read timeout: the server closes the connection while the body is
// still incomplete, and nothing is published.
func TestAlertmanagerSlowDripRequestIsCutByTheServer(t *testing.T) {
	e := newEnv(t)
	limits := httplimits.Default
	limits.Read = 500 * time.Millisecond
	url := serveBridge(t, &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1", BearerToken: "t"}, limits)
	host := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/alertmanager")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := amPayload
	fmt.Fprintf(conn, "POST /alertmanager HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", host, len(body))
	closed := make(chan error, 1)
	go func() {
		// Whatever the server answers, it must end with the connection
		// closed (EOF or reset), not an open connection waiting for more.
		_, err := io.Copy(io.Discard, bufio.NewReader(conn))
		closed <- err
	}()
	// Drip one byte at a time until the server closes the connection; the
	// body is never completed. The loop's bound is a safety net so a
	// broken server fails the test instead of hanging it.
	for sent := 0; sent < len(body)-1; sent++ {
		select {
		case err := <-closed:
			if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("reading the response: %v", err)
			}
			if got := breachEvents(t, e); len(got) != 0 {
				t.Fatalf("a dripped request stored %d events", len(got))
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := conn.Write([]byte{body[sent]}); err != nil {
			return // the server closed the connection under us: cut
		}
	}
	t.Fatal("the server read the whole dripped body: no read timeout")
}

// bigPayload is a webhook of n firing alerts for distinct bots.
func bigPayload(t *testing.T, n int) string {
	t.Helper()
	p := AlertmanagerPayload{Version: "4", Receiver: "keyresponse", Status: "firing"}
	for i := range n {
		p.Alerts = append(p.Alerts, Alert{Status: "firing", StartsAt: time.Now(),
			Labels:      map[string]string{"alertname": "KeyLeaked", "bot": fmt.Sprintf("bot-%d", i)},
			Annotations: map[string]string{"summary": strings.Repeat("x", 100)}})
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
