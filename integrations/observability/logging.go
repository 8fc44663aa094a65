package observability

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/keyresponse/runbook/events/audit/redact"
	"github.com/keyresponse/runbook/integrations/redactlog"
)

// LogOptions configure the process logger.
type LogOptions struct {
	// Format is "json" (production, the default) or "text" (dev).
	Format string
	// Level is the minimum level (default Info).
	Level slog.Level
	// Writer defaults to os.Stderr.
	Writer io.Writer
	// Redactor defaults to redact.Default, where run-time secrets are
	// registered.
	Redactor *redact.Redactor
}

// NewLogger returns the process logger: JSON or text, every record passed
// through the redacting handler (secret-looking attribute keys masked,
// secret shapes and registered secret values cut from every string). Hand
// the same logger to the Temporal SDK (log.NewStructuredLogger) so SDK and
// workflow logs are redacted too.
func NewLogger(o LogOptions) *slog.Logger {
	w := o.Writer
	if w == nil {
		w = os.Stderr
	}
	ho := &slog.HandlerOptions{Level: o.Level}
	var h slog.Handler
	if strings.EqualFold(o.Format, "text") {
		h = slog.NewTextHandler(w, ho)
	} else {
		h = slog.NewJSONHandler(w, ho)
	}
	return slog.New(redactlog.New(h, o.Redactor))
}

// LogFormatFromEnv is RUNBOOK_LOG_FORMAT, or def when unset.
func LogFormatFromEnv(def string) string {
	if v := os.Getenv("RUNBOOK_LOG_FORMAT"); v != "" {
		return v
	}
	return def
}
