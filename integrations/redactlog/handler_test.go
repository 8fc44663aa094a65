package redactlog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/events/audit/redact"
)

// A run-time secret that has no recognisable shape: only registration can
// catch it.
const planted = "plain-words-but-secret"

type botConfig struct {
	URL       string `json:"url"`
	APISecret string `json:"api_secret"`
	Nested    struct {
		Password string `json:"password"`
	} `json:"nested"`
}

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved " + planted) }

func TestPlantedSecretNeverReachesTheOutput(t *testing.T) {
	r := redact.New()
	r.AddSecret(planted)
	const shaped = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j" // exchange-secret shape
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(New(newHandler(&buf), r))
		cfg := botConfig{URL: "http://bot-1:8080", APISecret: "cfg-secret-value"}
		cfg.Nested.Password = "nested-pass-value"

		log.Info("delivering key "+planted, "bot", "bot-1", "note", "value is "+planted)
		log.With("token", "with-attr-token-value").Warn("retry")
		log.WithGroup("req").Error("call failed", "err", errors.New("401 for secret="+shaped+" and "+planted),
			slog.Group("auth", "password", "grp-pass-value", "user", "ops"))
		log.Info("config", "cfg", cfg, "raw", []byte(planted), "lazy", valuer{}, "apiSecret", 123456)

		out := buf.String()
		for _, s := range []string{planted, shaped, "cfg-secret-value", "nested-pass-value", "with-attr-token-value",
			"grp-pass-value", "123456"} {
			if strings.Contains(out, s) {
				t.Errorf("%s: %q leaked:\n%s", name, s, out)
			}
		}
		// Ordinary facts survive, so the logs stay useful.
		for _, s := range []string{"bot-1", "http://bot-1:8080", "ops", "call failed", "delivering key", redact.Mark} {
			if !strings.Contains(out, s) {
				t.Errorf("%s: %q missing:\n%s", name, s, out)
			}
		}
	}
}

func TestDefaultRedactorRegistration(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(New(slog.NewTextHandler(&buf, nil), nil))
	secret := "registered-at-runtime-xyz"
	redact.Default.AddSecret(secret)
	log.Info("loaded management key", "detail", "key "+secret+" ok")
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("default registration ignored: %s", buf.String())
	}
}
