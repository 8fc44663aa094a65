package redact

import (
	"strings"
	"testing"
)

const binanceSecret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

func TestSecretKeysLoseTheirValue(t *testing.T) {
	r := New()
	for _, k := range []string{"secret", "api_secret", "apiSecret", "API-SECRET", "password", "passphrase", "token",
		"auth_token", "private_key", "creds", "Authorization", "signature", "api_key", "out.secret", "session_id"} {
		if got := r.Value(k, "whatever-1"); got != Mark {
			t.Errorf("%s kept its value: %q", k, got)
		}
	}
	for _, k := range []string{"fingerprint", "secret_ref", "key_fingerprint", "bot", "exchange", "summary", "tokenizer_name"} {
		if got := r.Value(k, "plain words"); got != "plain words" {
			t.Errorf("%s was redacted: %q", k, got)
		}
	}
}

func TestSecretShapesAreCutFromText(t *testing.T) {
	r := New()
	cases := map[string]string{
		"binance secret":    "auth failed for secret " + binanceSecret + " on binance",
		"jwt":               "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QtMSJ9.Zm9vYmFyYmF6 expired",
		"bearer":            "sent Authorization: Bearer abcDEF123456ghiJKL to the bot",
		"url password":      "dial nats://bot:s3cr3tpass@10.0.0.1:4222 failed",
		"pem":               "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----",
		"query string":      "GET /sapi/v1/x?timestamp=1&signature=9f86d081884c7d659a2feaa0c55ad015",
		"aws":               "uses AKIAIOSFODNN7EXAMPLE",
		"padded base64 key": "key material dGhpcyBpcyBhIHNlY3JldCBrZXkgbWF0ZXJpYWw=",
		"hex twilio token":  "twilio token 9f86d081884c7d659a2feaa0c55ad015 rejected",
		"github token":      "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
	}
	secrets := map[string]string{
		"binance secret": binanceSecret, "jwt": "eyJzdWIiOiJib3QtMSJ9", "bearer": "abcDEF123456ghiJKL",
		"url password": "s3cr3tpass", "pem": "MHcCAQEEIB", "query string": "9f86d081884c7d659a2feaa0c55ad015",
		"aws": "AKIAIOSFODNN7EXAMPLE", "padded base64 key": "dGhpcyBpcyBhIHNlY3JldCBrZXkgbWF0ZXJpYWw=",
		"hex twilio token": "9f86d081884c7d659a2feaa0c55ad015", "github token": "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
	}
	for name, text := range cases {
		got := r.Value("error", text)
		if strings.Contains(got, secrets[name]) || !strings.Contains(got, Mark) {
			t.Errorf("%s: %q", name, got)
		}
	}
	if got := r.Value("error", "dial nats://bot:s3cr3tpass@10.0.0.1:4222 failed"); got != "dial nats://bot:"+Mark+"@10.0.0.1:4222 failed" {
		t.Errorf("url password: %q", got)
	}
}

func TestOrdinaryValuesSurvive(t *testing.T) {
	r := New()
	for k, v := range map[string]string{
		"incident_id":  "contain-key-breach:bot-1",
		"runbook":      "rotate-keys-for-every-bot-nightly-drill",
		"runbook_hash": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"summary":      "revoked key on binance, fingerprint sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"event_id":     "1f0c7a52-2b0e-4c39-9c3e-5d2f0f1c9a77",
		"url":          "https://api.binance.com/sapi/v2/sub-account/subAccountApi/ipRestriction",
		"time":         "2026-11-27T09:00:00.123456789Z",
		"error":        "token rejected: basic authentication required",
	} {
		if got := r.Value(k, v); got != v {
			t.Errorf("%s: %q became %q", k, v, got)
		}
	}
}

func TestKnownSecretsAndMasking(t *testing.T) {
	r := New()
	r.AddSecret("hunter2hunter2")
	if got := r.Value("note", "password was hunter2hunter2!"); strings.Contains(got, "hunter2") {
		t.Fatalf("known secret kept: %q", got)
	}
	if got := r.Value("key_id", "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"); got != "vmPU…Eh8A" {
		t.Fatalf("key id masked as %q", got)
	}
	if got := r.Value("key_id", "k-42"); got != "…42" {
		t.Fatalf("short key id masked as %q", got)
	}
	out := map[string]string{}
	r.Any("out", map[string]any{"creds": map[string]any{"user": "bot"}, "account": map[string]any{"secret": "x1", "user": "bot"}, "ips": []any{"10.0.0.1", "10.0.0.2"}}, out)
	if out["out.creds"] != Mark || out["out.account.secret"] != Mark || out["out.account.user"] != "bot" || out["out.ips"] != "10.0.0.1,10.0.0.2" {
		t.Fatalf("Any = %v", out)
	}
}
