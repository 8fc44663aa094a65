package breach

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func headerFixture(t *testing.T) (Keyring, []byte, Event) {
	t.Helper()
	kr := Keyring{}
	if err := kr.Add("mon-1", []byte("0123456789abcdef0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	ev := New("/monitor", "key_leaked", Data{Bot: "bot-1", Exchange: "binance", KeyID: "AK1", Severity: SeverityHigh, Source: "test"}, time.Now())
	body, err := json.Marshal(ev) // unsigned body: the header carries the signature
	if err != nil {
		t.Fatal(err)
	}
	return kr, body, ev
}

func TestPrecheckHeaderSignature(t *testing.T) {
	kr, body, _ := headerFixture(t)
	v := &Verifier{Keys: kr}
	good, err := SignHeader(body, kr, "mon-1")
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), body...)
	flipped[len(flipped)-2] ^= 1
	other := "keyid=old,sha256=" + macBytes([]byte("ffffffffffffffffffffffffffffffff"), body)
	cases := []struct {
		name, header string
		body         []byte
		signed       bool
		reason       Reason
		detail       string
	}{
		{name: "valid", header: good, body: body, signed: true},
		{name: "spaces after commas", header: strings.ReplaceAll(good, ",", ", "), body: body, signed: true},
		{name: "rotation: second pair matches", header: other + "," + good, body: body, signed: true},
		{name: "unknown part ignored", header: good + ",v=2", body: body, signed: true},
		{name: "one flipped byte", header: good, body: flipped, reason: ReasonBadSignature, detail: "does not match"},
		{name: "unknown key", header: strings.Replace(good, "mon-1", "mon-9", 1), body: body, reason: ReasonUnknownKey, detail: "mon-9"},
		{name: "no name=value", header: "garbage", body: body, reason: ReasonBadSignature, detail: "not name=value"},
		{name: "bad base64", header: "keyid=mon-1,sha256=abc", body: body, reason: ReasonBadSignature, detail: "44 characters"},
		{name: "keyid chars", header: "keyid=mon 1!,sha256=" + good[len("keyid=mon-1,sha256="):], body: body, reason: ReasonBadSignature, detail: "keyid"},
		{name: "sha256 before keyid", header: "sha256=" + good[len("keyid=mon-1,sha256="):], body: body, reason: ReasonBadSignature, detail: "before any keyid"},
		{name: "no keyid", header: "v=2", body: body, reason: ReasonBadSignature, detail: "no keyid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			signed, err := v.Precheck("breach.bot-1.key_leaked", c.header, c.body)
			if c.reason == "" {
				if err != nil || signed != c.signed {
					t.Fatalf("Precheck = %v, %v; want %v, nil", signed, err, c.signed)
				}
				return
			}
			if ReasonOf(err) != c.reason || !strings.Contains(err.Error(), c.detail) || signed {
				t.Fatalf("Precheck = %v, %v; want reason %s mentioning %q", signed, err, c.reason, c.detail)
			}
		})
	}
}

func TestPrecheckLeavesBodySignaturesToDecode(t *testing.T) {
	kr, body, ev := headerFixture(t)
	v := &Verifier{Keys: kr}
	if hs, err := v.Precheck("breach.bot-1.key_leaked", "", body); err != nil || hs {
		t.Fatalf("no header: %v, %v; want left to Decode+Verify", hs, err)
	}
	signed, err := Sign(ev, kr, "mon-1")
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := json.Marshal(signed)
	if hs, err := v.Precheck("breach.bot-1.key_leaked", "", sb); err != nil || hs {
		t.Fatalf("body-signed event: %v, %v; want left to Decode+Verify", hs, err)
	}
}

// A forged header on an event that carries a secret is refused as
// secret_field (the consumer redacts and erases those), also when the key
// is spelled with an escape; without a secret, as bad_signature unparsed.
func TestPrecheckForgedHeaderWithSecretIsSecretField(t *testing.T) {
	kr, _, _ := headerFixture(t)
	v := &Verifier{Keys: kr}
	forged := "keyid=mon-1,sha256=" + macBytes([]byte("ffffffffffffffffffffffffffffffff"), []byte("x"))
	for _, body := range []string{
		`{"specversion":"1.0","data":{"api_secret":"s3cr3t"}}`,
		`{"specversion":"1.0","data":{"api_s\u0065cret":"s3cr3t"}}`,
	} {
		if _, err := v.Precheck("breach.bot-1.key_leaked", forged, []byte(body)); ReasonOf(err) != ReasonSecretField {
			t.Errorf("%s: %v, want secret_field", body, err)
		}
	}
	if _, err := v.Precheck("breach.bot-1.key_leaked", forged, []byte(`{"specversion":"1.0","data":{"note":"api_secret"}}`)); ReasonOf(err) != ReasonBadSignature {
		t.Errorf("a secret word as a value, not a key: %v, want bad_signature", err)
	}
	if mayNameSecret([]byte(`{"bot":"b","data":{"evidence":{"ip":"1.2.3.4"}}}`)) {
		t.Error("plain event judged secret-looking")
	}
}

// A header-signed event passes Verify without a body signature, and still
// gets the window and replay checks.
func TestHeaderSignedEventStillGetsWindowAndReplay(t *testing.T) {
	kr, body, _ := headerFixture(t)
	v := &Verifier{Keys: kr, Replay: &MemoryReplayGuard{}}
	ev, err := Decode("breach.bot-1.key_leaked", body)
	if err != nil {
		t.Fatal(err)
	}
	d := Delivery{Subject: "breach.bot-1.key_leaked", StreamSeq: 1, HeaderSigned: true}
	if err := v.Verify(context.Background(), ev, d); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), ev, Delivery{Subject: d.Subject, StreamSeq: 2}); ReasonOf(err) != ReasonUnsigned {
		t.Fatalf("without the header the unsigned body is %v, want unsigned", err)
	}
	d.StreamSeq = 3
	if err := v.Verify(context.Background(), ev, d); ReasonOf(err) != ReasonReplayed {
		t.Fatalf("same id again: %v, want replayed", err)
	}
	d.StreamSeq, d.ArrivedAt = 4, ev.Time.Add(time.Hour)
	if err := v.Verify(context.Background(), ev, d); ReasonOf(err) != ReasonExpired {
		t.Fatalf("an hour late: %v, want expired", err)
	}
}

// A publisher written from the README alone: the header computed with
// openssl matches SignHeader.
func TestHeaderSignatureMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	kr, body, _ := headerFixture(t)
	cmd := exec.Command("sh", "-c", `openssl dgst -sha256 -hmac "$KEY" -binary | base64`)
	cmd.Env = append(cmd.Environ(), "KEY=0123456789abcdef0123456789abcdef")
	cmd.Stdin = strings.NewReader(string(body))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := SignHeader(body, kr, "mon-1")
	if got := "keyid=mon-1,sha256=" + strings.TrimSpace(string(out)); got != want {
		t.Fatalf("openssl: %s\nSignHeader: %s", got, want)
	}
}

func BenchmarkPrecheck(b *testing.B) {
	kr := Keyring{"mon-1": []byte("0123456789abcdef0123456789abcdef")}
	ev := New("/monitor", "key_leaked", Data{Bot: "bot-1", Exchange: "binance", KeyID: "AK1", Severity: SeverityHigh, Source: "test",
		Evidence: map[string]any{"ip": "203.0.113.7", "note": strings.Repeat("x", 600)}}, time.Now())
	body, _ := json.Marshal(ev)
	good, _ := SignHeader(body, kr, "mon-1")
	forged := "keyid=mon-1,sha256=" + macBytes([]byte("ffffffffffffffffffffffffffffffff"), body)
	v := &Verifier{Keys: kr}
	for _, c := range []struct{ name, h string }{{"valid-header", good}, {"forged-header", forged}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				_, _ = v.Precheck("breach.bot-1.key_leaked", c.h, body)
			}
		})
	}
}
