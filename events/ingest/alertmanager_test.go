package ingest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/integrations/httplimits"
)

const amPayload = `{
  "version": "4",
  "groupKey": "{}:{alertname=\"KeyUsedFromUnknownIP\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "keyresponse",
  "groupLabels": {"alertname": "KeyUsedFromUnknownIP"},
  "commonLabels": {"alertname": "KeyUsedFromUnknownIP", "exchange": "binance"},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager.local:9093",
  "alerts": [
    {"status": "firing", "labels": {"alertname": "KeyUsedFromUnknownIP", "bot": "bot-1", "exchange": "binance", "key_id": "AK1", "severity": "page", "api_password": "oops"},
     "annotations": {"summary": "key used from 198.51.100.4"}, "startsAt": "2026-11-27T08:59:00Z", "endsAt": "0001-01-01T00:00:00Z",
     "generatorURL": "http://prometheus.local/graph", "fingerprint": "a1b2c3d4e5f60718"},
    {"status": "firing", "labels": {"alertname": "KeyLeaked", "kind": "key_leaked", "bot": "bot-2", "severity": "warning"},
     "annotations": {}, "startsAt": "2026-11-27T08:58:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "0000000000000002"},
    {"status": "resolved", "labels": {"alertname": "KeyLeaked", "bot": "bot-3"},
     "annotations": {}, "startsAt": "2026-11-27T08:00:00Z", "endsAt": "2026-11-27T08:30:00Z", "fingerprint": "0000000000000003"},
    {"status": "firing", "labels": {"alertname": "KeyLeaked"},
     "annotations": {}, "startsAt": "2026-11-27T08:00:00Z", "fingerprint": "0000000000000004"}
  ]
}`

func TestAlertmanagerWebhookPublishesSignedEvents(t *testing.T) {
	e := newEnv(t)
	url := serveBridge(t, &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1", BearerToken: "hook-token"}, httplimits.Default)

	resp, body := postAlerts(t, url, "hook-token", amPayload)
	var res WebhookResult
	if err := json.Unmarshal(body, &res); err != nil || resp.StatusCode != http.StatusOK || len(res.Published) != 2 || len(res.Skipped) != 2 {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	for _, id := range res.Published {
		if _, err := uuid.Parse(id); err != nil {
			t.Fatalf("event id %q is not an engine-made uuid: %v", id, err)
		}
	}
	// Alertmanager retries a notification: the same alerts, not stored twice.
	resp, body = postAlerts(t, url, "hook-token", amPayload)
	var retry WebhookResult
	if err := json.Unmarshal(body, &retry); err != nil || resp.StatusCode != http.StatusOK || retry.Repeated != 2 || len(retry.Published) != 0 {
		t.Fatalf("retry: status %d body %s", resp.StatusCode, body)
	}

	ctx := context.Background()
	got := breachEvents(t, e)
	if len(got) != 2 {
		t.Fatalf("BREACH holds %d events, want 2", len(got))
	}
	v := &breach.Verifier{Keys: testKeyring()}
	bySubject := map[string]breach.Event{}
	for _, m := range got {
		ev, err := breach.Decode(m.Subject, m.Data)
		if err != nil {
			t.Fatalf("%s: %v", m.Subject, err)
		}
		if err := v.Verify(ctx, ev, breach.Delivery{Subject: m.Subject, ArrivedAt: m.Time}); err != nil {
			t.Fatalf("%s: %v", m.Subject, err)
		}
		bySubject[m.Subject] = ev
	}
	a, ok := bySubject["breach.bot-1.key_used_from_unknown_ip"]
	if !ok || a.Data.Severity != breach.SeverityCritical || a.Data.Exchange != "binance" || a.Data.KeyID != "AK1" || a.Data.Evidence["caller"] != callerBearer {
		t.Fatalf("events %v", bySubject)
	}
	if labels := a.Data.Evidence["labels"].(map[string]any); labels["api_password"] != nil || labels["alertname"] != "KeyUsedFromUnknownIP" {
		t.Fatalf("labels %v", labels)
	}
	b, ok := bySubject["breach.bot-2.key_leaked"]
	if !ok || b.Data.Severity != breach.SeverityMedium || b.Data.Exchange != "binance" {
		t.Fatalf("events %v", bySubject)
	}
}

func TestAlertmanagerFiringAlertStartsIncident(t *testing.T) {
	e := newEnv(t)
	st := &fakeStarter{}
	c, _ := e.runConsumer(st)
	bridge := &AlertmanagerBridge{JS: e.js, Keys: testKeyring(), KeyID: "k1"}
	var p AlertmanagerPayload
	if err := json.Unmarshal([]byte(amPayload), &p); err != nil {
		t.Fatal(err)
	}
	p.Alerts[1].StartsAt = time.Now()
	p.Alerts[1].Labels["severity"] = "critical"
	if _, err := bridge.Publish(context.Background(), callerBearer, p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "acks", func() bool { return c.Stats().Acked == 2 })
	// key_leaked on bot-2 matches contain-key-breach; the unknown-IP alert
	// of bot-1 matches no runbook here.
	starts, _, _ := st.snapshot()
	if len(starts) != 1 || starts[0].IncidentID != "contain-key-breach:bot-2" || starts[0].StartedBy != "/alertmanager" || c.Stats().Unmatched != 1 {
		t.Fatalf("starts %+v stats %+v", starts, c.Stats())
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"KeyUsedFromUnknownIP": "key_used_from_unknown_ip",
		"key-leaked":           "key_leaked",
		"HTTPError500":         "http_error500",
		"  ":                   "",
		"Ünïcode alert":        "n_code_alert",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
