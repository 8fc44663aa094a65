package breach

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func accountSample() Event {
	return New("/monitoring/test", KindAccountLeaked, Data{
		Exchange: "binance", Severity: SeverityCritical, Source: "exchange-notice",
		Evidence: map[string]any{"notice": "master key rotated by support"},
	}, t0)
}

func TestAccountLeakedAccepted(t *testing.T) {
	ev := accountSample()
	if ev.Subject != "binance" || ev.NATSSubject() != "breach.binance.account_leaked" {
		t.Fatalf("New: subject %q, NATS subject %q", ev.Subject, ev.NATSSubject())
	}
	body := signed(t, ev, "k2")
	got, err := Decode("breach.binance.account_leaked", body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Data.Bot != "" || got.Data.KeyID != "" || got.Subject != "binance" || got.Kind() != KindAccountLeaked || !AccountWide(got.Kind()) {
		t.Fatalf("decoded %+v", got)
	}
	if err := verifier(t).Verify(context.Background(), got, Delivery{Subject: "breach.binance.account_leaked", ArrivedAt: t0, StreamSeq: 1}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// A known management key id is allowed too.
	ev.Data.KeyID = "MASTER-PUBLIC-1"
	if _, err := Decode("breach.binance.account_leaked", signed(t, ev, "k2")); err != nil {
		t.Fatalf("with key id: %v", err)
	}
}

func TestAccountLeakedRefusals(t *testing.T) {
	acct := signed(t, accountSample(), "k2")
	bot := signed(t, sample(), "k2")
	cases := []struct {
		name, subject string
		body          []byte
		want          Reason
	}{
		{"account event naming a bot", "breach.binance.account_leaked", mutate(t, acct, func(m map[string]any) {
			m["data"].(map[string]any)["bot"] = "bot-7"
		}), ReasonSchema},
		{"account event without bot field", "breach.binance.account_leaked", mutate(t, acct, func(m map[string]any) {
			delete(m["data"].(map[string]any), "bot")
		}), ReasonSchema},
		{"subject is not the exchange", "breach.okx.account_leaked", mutate(t, acct, func(m map[string]any) {
			m["subject"] = "okx"
		}), ReasonSubjectMismatch},
		{"subject is a bot name", "breach.bot-7.account_leaked", mutate(t, acct, func(m map[string]any) {
			m["subject"] = "bot-7"
		}), ReasonSubjectMismatch},
		{"published under another exchange", "breach.okx.account_leaked", acct, ReasonSubjectMismatch},
		{"published under another kind", "breach.binance.key_leaked", acct, ReasonSubjectMismatch},
		{"empty bot on a per-bot kind", "breach..key_leaked", mutate(t, bot, func(m map[string]any) {
			m["data"].(map[string]any)["bot"] = ""
			m["subject"] = ""
		}), ReasonSchema},
		{"empty bot, subject the exchange, per-bot kind", "breach.binance.key_leaked", mutate(t, bot, func(m map[string]any) {
			m["data"].(map[string]any)["bot"] = ""
			m["subject"] = "binance"
		}), ReasonSchema},
		{"bad exchange token", "", mutate(t, acct, func(m map[string]any) {
			m["data"].(map[string]any)["exchange"] = "Bin Ance"
			m["subject"] = "Bin Ance"
		}), ReasonSchema},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.subject, c.body)
			if got := ReasonOf(err); got != c.want {
				t.Fatalf("reason %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

// Map hands out a map the caller owns: changing it must not reach the
// Event or the next caller, and it must equal the JSON round trip.
func TestMapIsAFreshCopy(t *testing.T) {
	body := signed(t, sample(), "k2")
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	raw["x1"] = "ext"
	raw["x2"] = 2.5
	delete(raw, "signature")
	delete(raw, "sigkeyid")
	withExt, _ := json.Marshal(raw)
	ev, err := Decode("breach.bot-7.key_leaked", withExt)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := ev.Map()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mapReference(ev)
	if !equalJSON(t, m1, want) {
		t.Fatalf("map %v\nround trip %v", m1, want)
	}
	if m1["x1"] != "ext" || m1["x2"] != 2.5 {
		t.Fatalf("extensions missing: %v", m1)
	}
	ev1 := m1["data"].(map[string]any)["evidence"].(map[string]any)
	ev1["repo"] = "changed"
	ev1["ips"].([]any)[0] = "changed"
	m1["id"] = "changed"
	if ev.Data.Evidence["repo"] != "acme/bot" || ev.Data.Evidence["ips"].([]any)[0] != "203.0.113.9" {
		t.Fatalf("changing the map changed the event: %v", ev.Data.Evidence)
	}
	m2, _ := ev.Map()
	if m2["id"] == "changed" || m2["data"].(map[string]any)["evidence"].(map[string]any)["repo"] != "acme/bot" {
		t.Fatalf("changing one map changed the next: %v", m2)
	}
	// A change to the Event shows in the next Map (it is not a stale
	// snapshot of the decoded body).
	ev.Data.Severity = SeverityLow
	m3, _ := ev.Map()
	if m3["data"].(map[string]any)["severity"] != "low" {
		t.Fatalf("stale map: %v", m3)
	}
}

// Events built in code may hold any Go value in evidence; Map still gives
// what the JSON round trip gives (ints become float64, structs maps).
func TestMapOfBuiltEvent(t *testing.T) {
	ev := sample()
	ev.Data.Evidence["when"] = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev.Data.Evidence["ports"] = []int{22, 443}
	m, err := ev.Map()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mapReference(ev)
	if !equalJSON(t, m, want) {
		t.Fatalf("map %v\nround trip %v", m, want)
	}
	e := m["data"].(map[string]any)["evidence"].(map[string]any)
	if e["count"] != float64(3) || e["ports"].([]any)[1] != float64(443) || e["when"] != "2026-01-02T03:04:05Z" {
		t.Fatalf("evidence %v", e)
	}
	ev.Extensions = map[string]any{"id": "collides"}
	if _, err := ev.Map(); err == nil {
		t.Fatal("an extension named like a context attribute was accepted")
	}
}

func equalJSON(t *testing.T, a, b map[string]any) bool {
	t.Helper()
	return reflect.DeepEqual(a, b)
}
