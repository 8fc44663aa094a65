package breach

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var (
	t0      = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	testKey = []byte("0123456789abcdef0123456789abcdef")
	oldKey  = []byte("fedcba9876543210fedcba9876543210")
)

func testKeyring(t testing.TB) Keyring {
	kr := Keyring{}
	if err := kr.Add("k2", testKey); err != nil {
		t.Fatal(err)
	}
	if err := kr.Add("k1", oldKey); err != nil {
		t.Fatal(err)
	}
	return kr
}

func sample() Event {
	ev := New("/monitoring/test", "key_leaked", Data{
		Bot: "bot-7", Exchange: "binance", KeyID: "AKIA-PUBLIC-1", Severity: SeverityCritical,
		Source: "github-secret-scanning", Evidence: map[string]any{"repo": "acme/bot", "count": 3, "ips": []any{"203.0.113.9"}},
	}, t0)
	return ev
}

func signed(t testing.TB, ev Event, keyID string) []byte {
	t.Helper()
	s, err := Sign(ev, testKeyring(t), keyID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verifier(t testing.TB) *Verifier {
	return &Verifier{Keys: testKeyring(t), Replay: &MemoryReplayGuard{}}
}

func TestSignedEventRoundTrip(t *testing.T) {
	body := signed(t, sample(), "k2")
	ev, err := Decode("breach.bot-7.key_leaked", body)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if ev.Data.Bot != "bot-7" || ev.Kind() != "key_leaked" || ev.Data.Severity != SeverityCritical || ev.SigKeyID != "k2" {
		t.Fatalf("decoded %+v", ev)
	}
	if err := verifier(t).Verify(context.Background(), ev, Delivery{Subject: "breach.bot-7.key_leaked", ArrivedAt: t0.Add(time.Second), StreamSeq: 1}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	m, err := ev.Map()
	if err != nil {
		t.Fatal(err)
	}
	if m["data"].(map[string]any)["evidence"].(map[string]any)["count"] != float64(3) {
		t.Fatalf("map: %v", m)
	}
}

// A verifier must accept the signature whatever key order, whitespace and
// string escaping the publisher used: it canonicalises the received bytes.
func TestSignatureSurvivesReformatting(t *testing.T) {
	body := signed(t, sample(), "k2")
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(m, "", "    ")
	// json.Marshal escapes nothing here; force \u escapes on a plain letter.
	pretty = []byte(strings.Replace(string(pretty), `"acme/bot"`, `"\u0061cme/bot"`, 1))
	ev, err := Decode("breach.bot-7.key_leaked", pretty)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifier(t).Verify(context.Background(), ev, Delivery{ArrivedAt: t0}); err != nil {
		t.Fatalf("reformatted body: %v", err)
	}
}

func TestOldKeyStillVerifiesDuringRotation(t *testing.T) {
	ev, err := Decode("", signed(t, sample(), "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := verifier(t).Verify(context.Background(), ev, Delivery{ArrivedAt: t0}); err != nil {
		t.Fatal(err)
	}
}

func mutate(t *testing.T, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, _ := json.Marshal(m)
	return b
}

func TestRefusals(t *testing.T) {
	good := signed(t, sample(), "k2")
	subj := "breach.bot-7.key_leaked"
	otherKey := Keyring{"k2": []byte("ffffffffffffffffffffffffffffffff")}
	forged, _ := Sign(sample(), otherKey, "k2")
	forgedBody, _ := json.Marshal(forged)
	unknown, _ := Sign(sample(), Keyring{"k9": testKey}, "k9")
	unknownBody, _ := json.Marshal(unknown)
	unsigned, _ := json.Marshal(sample())

	cases := []struct {
		name    string
		subject string
		body    []byte
		arrived time.Time
		want    Reason
	}{
		{"oversized", subj, []byte(`{"pad":"` + strings.Repeat("x", MaxEventBytes) + `"}`), t0, ReasonOversized},
		{"not json", subj, []byte(`{"specversion":`), t0, ReasonMalformedJSON},
		{"array", subj, []byte(`[1,2]`), t0, ReasonMalformedJSON},
		{"trailing", subj, append(append([]byte{}, good...), []byte(` {}`)...), t0, ReasonMalformedJSON},
		{"duplicate key", subj, []byte(strings.Replace(string(good), `"bot":"bot-7"`, `"bot":"bot-7","bot":"bot-8"`, 1)), t0, ReasonMalformedJSON},
		{"too deep", subj, []byte(strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100)), t0, ReasonMalformedJSON},
		{"secret in evidence", subj, mutate(t, good, func(m map[string]any) {
			m["data"].(map[string]any)["evidence"].(map[string]any)["nested"] = map[string]any{"API_Secret": "x"}
		}), t0, ReasonSecretField},
		{"private key in data", subj, mutate(t, good, func(m map[string]any) { m["data"].(map[string]any)["private_key"] = "x" }), t0, ReasonSecretField},
		{"password extension", subj, mutate(t, good, func(m map[string]any) { m["password"] = "x" }), t0, ReasonSecretField},
		{"severity wrong type", subj, mutate(t, good, func(m map[string]any) { m["data"].(map[string]any)["severity"] = 5 }), t0, ReasonSchema},
		{"severity unknown", subj, mutate(t, good, func(m map[string]any) { m["data"].(map[string]any)["severity"] = "apocalyptic" }), t0, ReasonSchema},
		{"missing key_id", subj, mutate(t, good, func(m map[string]any) { delete(m["data"].(map[string]any), "key_id") }), t0, ReasonSchema},
		{"bad time", subj, mutate(t, good, func(m map[string]any) { m["time"] = "yesterday" }), t0, ReasonSchema},
		{"wrong specversion", subj, mutate(t, good, func(m map[string]any) { m["specversion"] = "0.3" }), t0, ReasonSchema},
		{"evidence not object", subj, mutate(t, good, func(m map[string]any) { m["data"].(map[string]any)["evidence"] = "x" }), t0, ReasonSchema},
		{"signature without key id", subj, mutate(t, good, func(m map[string]any) { delete(m, "sigkeyid") }), t0, ReasonSchema},
		{"unknown data field", subj, mutate(t, good, func(m map[string]any) { m["data"].(map[string]any)["extra"] = 1 }), t0, ReasonSchema},
		{"wrong subject", "breach.bot-8.key_leaked", good, t0, ReasonSubjectMismatch},
		{"wrong kind", "breach.bot-7.unknown_ip", good, t0, ReasonSubjectMismatch},
		{"ce subject not bot", subj, mutate(t, good, func(m map[string]any) { m["subject"] = "bot-8" }), t0, ReasonSubjectMismatch},
		{"forged", subj, forgedBody, t0, ReasonBadSignature},
		{"tampered data", subj, mutate(t, good, func(m map[string]any) { m["data"].(map[string]any)["exchange"] = "okx" }), t0, ReasonBadSignature},
		{"swapped key id", subj, mutate(t, good, func(m map[string]any) { m["sigkeyid"] = "k1" }), t0, ReasonBadSignature},
		{"unknown key", subj, unknownBody, t0, ReasonUnknownKey},
		{"unsigned", subj, unsigned, t0, ReasonUnsigned},
		{"old", subj, good, t0.Add(6 * time.Minute), ReasonExpired},
		{"future", subj, good, t0.Add(-6 * time.Minute), ReasonFuture},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Decode(c.subject, c.body)
			if err == nil {
				err = verifier(t).Verify(context.Background(), ev, Delivery{Subject: c.subject, ArrivedAt: c.arrived, StreamSeq: 1})
			}
			if got := ReasonOf(err); got != c.want {
				t.Fatalf("reason %q (%v), want %q", got, err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error text has a newline: %q", err)
			}
		})
	}
}

func TestSecretValueNeverEchoed(t *testing.T) {
	body := mutate(t, signed(t, sample(), "k2"), func(m map[string]any) {
		m["data"].(map[string]any)["evidence"].(map[string]any)["secret"] = "hunter2-SUPERSECRET"
	})
	_, err := Decode("", body)
	if ReasonOf(err) != ReasonSecretField || strings.Contains(err.Error(), "SUPERSECRET") {
		t.Fatalf("got %v", err)
	}
}

func TestReplay(t *testing.T) {
	v := verifier(t)
	ev, err := Decode("", signed(t, sample(), "k2"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := v.Verify(ctx, ev, Delivery{ArrivedAt: t0, StreamSeq: 10}); err != nil {
		t.Fatal(err)
	}
	// The same stream message redelivered (its start failed) is not a replay.
	if err := v.Verify(ctx, ev, Delivery{ArrivedAt: t0, StreamSeq: 10}); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	// The same event id in another message is.
	if r := ReasonOf(v.Verify(ctx, ev, Delivery{ArrivedAt: t0, StreamSeq: 11})); r != ReasonReplayed {
		t.Fatalf("got %q", r)
	}
}

func TestUnsignedAllowedPrefix(t *testing.T) {
	ev := sample()
	ev.Subject, ev.Data.Bot = "drill-1", "drill-1"
	body, _ := json.Marshal(ev)
	subj := "breach.drill-1.key_leaked"
	d, err := Decode(subj, body)
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t)
	v.AllowUnsigned = []string{"breach.drill-1"}
	if err := v.Verify(context.Background(), d, Delivery{Subject: subj, ArrivedAt: t0, StreamSeq: 1}); err != nil {
		t.Fatal(err)
	}
	// A prefix matches whole tokens only: breach.drill does not allow breach.drill-1.
	v.AllowUnsigned = []string{"breach.drill"}
	if r := ReasonOf(v.Verify(context.Background(), d, Delivery{Subject: subj, ArrivedAt: t0, StreamSeq: 1})); r != ReasonUnsigned {
		t.Fatalf("got %q", r)
	}
	v.AllowUnsigned = []string{"breach.*.key_leaked"}
	if err := v.Verify(context.Background(), d, Delivery{Subject: subj, ArrivedAt: t0, StreamSeq: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestMatchSubject(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"breach.>", "breach.b.k", true},
		{"breach.>", "breach", false},
		{"breach.*.key_leaked", "breach.b.key_leaked", true},
		{"breach.*.key_leaked", "breach.b.unknown_ip", false},
		{"breach.*", "breach.b.k", false},
		{"breach.b.k", "breach.b.k", true},
		{"breach.b.k.x", "breach.b.k", false},
		{">", "breach.b.k", true},
		{"breach.>.k", "breach.b.k", false},
	}
	for _, c := range cases {
		if got := MatchSubject(c.p, c.s); got != c.want {
			t.Errorf("MatchSubject(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestParseKeyring(t *testing.T) {
	s := "# rotation\nk1=" + base64.StdEncoding.EncodeToString(oldKey) + ", k2=" + base64.StdEncoding.EncodeToString(testKey) + "\n"
	kr, err := ParseKeyring(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(kr.IDs(), ",") != "k1,k2" || string(kr["k2"]) != string(testKey) {
		t.Fatalf("%v", kr.IDs())
	}
	if _, err := ParseKeyring("short=" + base64.StdEncoding.EncodeToString([]byte("tiny"))); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestCanonicalForm(t *testing.T) {
	got, err := Canonical([]byte(`{ "b": [1.50, "x\u00e9\n\u0001"], "a": {"z": null, "signature": true}, "signature": "drop" }`))
	if err != nil {
		t.Fatal(err)
	}
	// Only the top-level signature is dropped; numbers keep their literal.
	want := `{"a":{"signature":true,"z":null},"b":[1.50,"xé\n\u0001"]}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
