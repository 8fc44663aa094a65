package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// alertEvent is a signed event and the key JetStream deduplicates it by.
type alertEvent struct {
	breach.Event
	dedupKey string
}

// Convert builds signed events for the firing alerts of p, delivered by
// caller; the rest are listed as skipped with a reason.
func (b *AlertmanagerBridge) Convert(caller string, p AlertmanagerPayload) ([]alertEvent, WebhookResult) {
	res := WebhookResult{Published: []string{}, Skipped: []AlertSkip{}}
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	var out []alertEvent
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
		ev.Data.Evidence["caller"] = caller
		if b.KeyID != "" {
			signed, err := breach.Sign(ev, b.Keys, b.KeyID)
			if err != nil {
				skip(err.Error())
				continue
			}
			ev = signed
		}
		out = append(out, alertEvent{Event: ev, dedupKey: alertDedupKey(caller, p.Receiver, a)})
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
	// ev.ID stays the engine-made uuid of breach.New: the caller's
	// fingerprint and startsAt no longer name the event (a forged alert
	// reusing them suppressed the genuine one). Retries are deduplicated by
	// alertDedupKey instead.
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
