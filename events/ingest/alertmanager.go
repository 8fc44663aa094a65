package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// AlertmanagerPayload is the Prometheus Alertmanager webhook body (version 4).
type AlertmanagerPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of an Alertmanager webhook.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// AlertmanagerBridge turns firing alerts into signed breach events. Label
// mapping: `bot` (BotLabel) → data.bot (required), `kind` or else the
// alertname (snake_cased) → kind, `exchange` → data.exchange, `key_id` →
// data.key_id, `severity` → data.severity (critical|page → critical,
// high|error → high, warning|medium → medium, info|low → low).
type AlertmanagerBridge struct {
	JS    jetstream.JetStream
	Keys  breach.Keyring
	KeyID string
	// Source is the CloudEvents source. Default "/alertmanager".
	Source string
	// BotLabel names the label holding the bot id. Default "bot".
	BotLabel string
	// DefaultSeverity when the severity label is absent or unknown. Default high.
	DefaultSeverity breach.Severity
	// BearerToken, if set, is required as "Authorization: Bearer <token>"
	// (Alertmanager http_config.authorization).
	BearerToken string
	Now         func() time.Time
	Logger      *slog.Logger
}

// AlertSkip says why an alert produced no event.
type AlertSkip struct {
	Fingerprint string `json:"fingerprint"`
	Alertname   string `json:"alertname,omitempty"`
	Reason      string `json:"reason"`
}

// WebhookResult is the handler's JSON response.
type WebhookResult struct {
	Published []string    `json:"published"`
	Skipped   []AlertSkip `json:"skipped"`
	Error     string      `json:"error,omitempty"`
}

const maxWebhookBytes = 4 << 20

// ServeHTTP implements http.Handler. It answers 200 when every firing alert
// was published or skipped for a permanent reason (listed in the body), 503
// when a publish failed (Alertmanager retries; event ids are deterministic,
// so already-published alerts are deduplicated by JetStream), 401/400/405
// for bad requests.
func (b *AlertmanagerBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if b.BearerToken != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(b.BearerToken)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	var p AlertmanagerPayload
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWebhookBytes))
	if err := dec.Decode(&p); err != nil {
		http.Error(w, "bad payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	if p.Version != "4" {
		http.Error(w, fmt.Sprintf("unsupported webhook version %q, want 4", p.Version), http.StatusBadRequest)
		return
	}
	res, err := b.Publish(r.Context(), p)
	status := http.StatusOK
	if err != nil {
		res.Error = err.Error()
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

// Publish converts and publishes every firing alert of p.
func (b *AlertmanagerBridge) Publish(ctx context.Context, p AlertmanagerPayload) (WebhookResult, error) {
	log := b.Logger
	if log == nil {
		log = slog.Default()
	}
	if p.TruncatedAlerts > 0 {
		// Alertmanager's max_alerts cut the group: those alerts are not in
		// this payload at all. Say so loudly; raise max_alerts.
		log.Error("alertmanager truncated alerts from the webhook", "truncated", p.TruncatedAlerts, "group", p.GroupKey)
	}
	evs, res := b.Convert(p)
	var errs []error
	for _, ev := range evs {
		if _, err := Publish(ctx, b.JS, ev); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ev.ID, err))
			continue
		}
		res.Published = append(res.Published, ev.ID)
	}
	for _, s := range res.Skipped {
		log.Warn("alert not turned into a breach event", "fingerprint", s.Fingerprint, "alertname", s.Alertname, "reason", s.Reason)
	}
	return res, errors.Join(errs...)
}

// Convert builds signed events for the firing alerts of p; the rest are
// listed as skipped with a reason.
func (b *AlertmanagerBridge) Convert(p AlertmanagerPayload) ([]breach.Event, WebhookResult) {
	res := WebhookResult{Published: []string{}, Skipped: []AlertSkip{}}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	var out []breach.Event
	for _, a := range p.Alerts {
		fp := a.Fingerprint
		if fp == "" {
			fp = labelsFingerprint(a.Labels)
		}
		name := a.Labels["alertname"]
		skip := func(reason string) {
			res.Skipped = append(res.Skipped, AlertSkip{Fingerprint: fp, Alertname: name, Reason: reason})
		}
		if a.Status != "firing" {
			skip("status " + a.Status)
			continue
		}
		ev, reason := b.event(p, a, fp, now())
		if reason != "" {
			skip(reason)
			continue
		}
		if b.KeyID != "" {
			signed, err := breach.Sign(ev, b.Keys, b.KeyID)
			if err != nil {
				skip(err.Error())
				continue
			}
			ev = signed
		}
		out = append(out, ev)
	}
	return out, res
}

func (b *AlertmanagerBridge) event(p AlertmanagerPayload, a Alert, fp string, now time.Time) (breach.Event, string) {
	label := func(k string) string {
		if v, ok := a.Labels[k]; ok {
			return v
		}
		return p.CommonLabels[k]
	}
	botLabel := b.BotLabel
	if botLabel == "" {
		botLabel = "bot"
	}
	bot := label(botLabel)
	if !breach.ValidToken(bot) {
		return breach.Event{}, fmt.Sprintf("label %s %q is missing or not a subject token ([A-Za-z0-9_-]{1,64})", botLabel, bot)
	}
	kind := snake(label("kind"))
	if kind == "" {
		kind = snake(label("alertname"))
	}
	if kind == "" {
		return breach.Event{}, "neither kind nor alertname label"
	}
	exchange := strings.ToLower(label("exchange"))
	if exchange == "" {
		exchange = "unknown"
	}
	if !exchangeRe.MatchString(exchange) {
		return breach.Event{}, fmt.Sprintf("label exchange %q is not an exchange id", exchange)
	}
	src := b.Source
	if src == "" {
		src = "/alertmanager"
	}
	ev := breach.New(src, kind, breach.Data{
		Bot:      bot,
		Exchange: exchange,
		KeyID:    label("key_id"),
		Severity: b.severity(label("severity")),
		Source:   truncateStr("alertmanager/"+a.Labels["alertname"], 200),
		Evidence: map[string]any{
			"alertname":     a.Labels["alertname"],
			"labels":        publicMap(a.Labels),
			"annotations":   publicMap(a.Annotations),
			"starts_at":     a.StartsAt.UTC().Format(time.RFC3339),
			"generator_url": a.GeneratorURL,
			"fingerprint":   fp,
			"receiver":      p.Receiver,
			"external_url":  p.ExternalURL,
		},
	}, now)
	// Deterministic: a webhook retry yields the same id, which JetStream
	// deduplicates; a new firing of the same alert has a new startsAt.
	ev.ID = fmt.Sprintf("alertmanager-%s-%d", fp, a.StartsAt.Unix())
	if enc, err := json.Marshal(ev); err == nil && len(enc) > breach.MaxEventBytes-200 {
		ev.Data.Evidence["annotations"] = map[string]string{"truncated": "annotations exceeded the event size cap"}
	}
	return ev, ""
}

var exchangeRe = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

func (b *AlertmanagerBridge) severity(s string) breach.Severity {
	switch strings.ToLower(s) {
	case "critical", "page", "p1", "emergency":
		return breach.SeverityCritical
	case "high", "error", "p2", "major":
		return breach.SeverityHigh
	case "warning", "warn", "medium", "p3", "minor":
		return breach.SeverityMedium
	case "info", "low", "p4", "none":
		return breach.SeverityLow
	}
	if b.DefaultSeverity != "" {
		return b.DefaultSeverity
	}
	return breach.SeverityHigh
}

// publicMap drops labels/annotations named like secrets: the decoder would
// refuse the whole event, and they have no business in the stream.
func publicMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if !breach.LooksSecret(k) {
			out[k] = v
		}
	}
	return out
}

// snake turns "KeyUsedFromUnknownIP" or "key-leaked" into key_used_from_unknown_ip / key_leaked.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		isUpper := r >= 'A' && r <= 'Z'
		if isUpper && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && rs[i+1] >= 'a' && rs[i+1] <= 'z'
			if (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') || ((prev >= 'A' && prev <= 'Z') && nextLower) {
				b.WriteByte('_')
			}
		}
		switch {
		case isUpper:
			b.WriteRune(r + ('a' - 'A'))
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.Trim(strings.Join(strings.FieldsFunc(b.String(), func(r rune) bool { return r == '_' }), "_"), "_")
	return truncateStr(out, 64)
}

func labelsFingerprint(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\x00", k, labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func truncateStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
