// Package redactlog is the logging half of "redaction as a second line": a
// slog.Handler wrapper that passes every record through events/audit/redact
// before the real handler writes it. Attribute values whose key looks
// secret-like are replaced, known secret shapes are cut out of every string
// (message included), and values registered at run time with
// redact.Default.AddSecret are always masked.
//
// The first line is that code never logs a secret; this catches the mistake
// (an error string that quotes a signed URL, a config struct logged whole).
// Wrap the process's root handler once:
//
//	logger := slog.New(redactlog.New(slog.NewJSONHandler(os.Stderr, nil), nil))
//
// and hand the same logger to the Temporal SDK (log.NewStructuredLogger) so
// worker and workflow logs pass through it too.
package redactlog

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/keyresponse/runbook/events/audit/redact"
)

// Handler redacts records before passing them to the wrapped handler.
type Handler struct {
	next slog.Handler
	r    *redact.Redactor
}

// New wraps next. r nil means redact.Default, the process-wide redactor that
// run-time secrets are registered with.
func New(next slog.Handler, r *redact.Redactor) *Handler {
	if r == nil {
		r = redact.Default
	}
	return &Handler{next: next, r: r}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler; the attrs are redacted once, here.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &Handler{next: h.next.WithAttrs(red), r: h.r}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), r: h.r}
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve() // LogValuer: redact what it really logs
	if v.Kind() == slog.KindGroup {
		gs := v.Group()
		red := make([]any, len(gs))
		for i, g := range gs {
			red[i] = h.attr(g)
		}
		return slog.Group(a.Key, red...)
	}
	if redact.SecretKey(a.Key) {
		return slog.String(a.Key, redact.Mark)
	}
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Value(a.Key, v.String()))
	case slog.KindAny:
		return slog.Any(a.Key, h.anyValue(a.Key, v.Any()))
	}
	return slog.Attr{Key: a.Key, Value: v} // numbers, bools, times, durations
}

// anyValue redacts an arbitrary value: errors and byte slices as text;
// structs, maps and slices through their JSON form, so secret-like keys
// nested inside (a config struct's "api_secret") are caught too.
func (h *Handler) anyValue(key string, v any) any {
	switch t := v.(type) {
	case nil:
		return nil
	case error:
		return h.r.Value(key, t.Error())
	case []byte:
		return h.r.Value(key, string(t))
	case fmt.Stringer:
		if _, isJSON := v.(json.Marshaler); !isJSON {
			return h.r.Value(key, t.String())
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return h.r.Value(key, fmt.Sprint(v))
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return h.r.Value(key, string(b))
	}
	return h.walk(key, generic)
}

func (h *Handler) walk(key string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			if redact.SecretKey(k) {
				out[k] = redact.Mark
				continue
			}
			out[k] = h.walk(k, x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = h.walk(key, x)
		}
		return out
	case string:
		return h.r.Value(key, t)
	}
	return v
}
