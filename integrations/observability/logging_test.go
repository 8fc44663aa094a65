package observability

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyresponse/runbook/events/audit/redact"
)

// A secret planted in every place a log line can carry it never reaches
// the output, in either format; the line itself still tells what happened.
func TestLogger_NeverPrintsAPlantedSecret(t *testing.T) {
	const planted = "s3cr3t-Value-Without-A-Shape" // registered at run time, like a loaded management key
	const shaped = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
	r := redact.New()
	r.AddSecret(planted)
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		log := NewLogger(LogOptions{Format: format, Writer: &buf, Redactor: r})
		log.Info("rotating key for bot-1", "api_secret", planted, "exchange", "binance-main")
		log.With("password", "pw-"+planted).Warn("bot answered 401")
		log.Error("revoke failed", "err", errors.New("exchange said: bad signature for secret="+shaped), "note", "value "+planted)
		log.Info("deliver "+planted, slog.Group("creds", "token", "tok-value-123456"))
		out := buf.String()
		for _, s := range []string{planted, shaped, "tok-value-123456"} {
			if strings.Contains(out, s) {
				t.Errorf("%s: %q leaked:\n%s", format, s, out)
			}
		}
		for _, s := range []string{"rotating key for bot-1", "binance-main", "revoke failed", redact.Mark} {
			if !strings.Contains(out, s) {
				t.Errorf("%s: %q missing from the log:\n%s", format, s, out)
			}
		}
		if format == "json" {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("json format wrote a non-JSON line: %s", line)
				}
			}
		}
	}
}

func TestLogger_Level(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(LogOptions{Format: "text", Level: slog.LevelWarn, Writer: &buf})
	log.Info("quiet")
	log.Warn("loud")
	if strings.Contains(buf.String(), "quiet") || !strings.Contains(buf.String(), "loud") {
		t.Fatalf("level not applied: %q", buf.String())
	}
}
