package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// Defaults of the bridge's request caps.
const (
	DefaultAlertmanagerMaxBodyBytes = 1 << 20
	DefaultAlertmanagerMaxAlerts    = 100
)

// AlertmanagerBridge turns firing alerts into signed breach events. Label
// mapping: `bot` (BotLabel) → data.bot (required), `kind` or else the
// alertname (snake_cased) → kind, `exchange` → data.exchange, `key_id` →
// data.key_id, `severity` → data.severity (critical|page → critical,
// high|error → high, warning|medium → medium, info|low → low).
//
// It signs with the engine's own event key, so it only serves
// authenticated callers: a bearer token, a verified client certificate, or
// both (each configured one is required). With neither configured it
// refuses every request (fail closed); the engine does not even serve it.
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
	// RequireClientCert requires a client certificate the TLS server
	// verified against its client CA (mTLS).
	RequireClientCert bool
	// MaxBodyBytes caps a request body (default
	// DefaultAlertmanagerMaxBodyBytes); a larger one is refused with 413.
	MaxBodyBytes int64
	// MaxAlerts caps the alerts of one request (default
	// DefaultAlertmanagerMaxAlerts); a request with more is refused whole
	// with 413 and publishes nothing.
	MaxAlerts int
	Now       func() time.Time
	Logger    *slog.Logger
}

// AlertSkip says why an alert produced no event.
type AlertSkip struct {
	Fingerprint string `json:"fingerprint"`
	Alertname   string `json:"alertname,omitempty"`
	Reason      string `json:"reason"`
}

// WebhookResult is the handler's JSON response.
type WebhookResult struct {
	// Published are the ids (engine-made) of the events stored now.
	Published []string `json:"published"`
	// Repeated counts alerts this caller had already delivered within the
	// stream's duplicate window (an Alertmanager retry): not stored again.
	Repeated int         `json:"repeated"`
	Skipped  []AlertSkip `json:"skipped"`
	Error    string      `json:"error,omitempty"`
}

// ServeHTTP implements http.Handler. It answers 200 when every firing alert
// was published, repeated or skipped for a permanent reason (listed in the
// body); 503 when a publish failed (Alertmanager retries; the dedup key
// makes the retry store nothing twice); 401 without valid credentials; 413
// past a cap; 400/405 for bad requests. Refusals publish nothing.
func (b *AlertmanagerBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	caller, err := b.authenticate(r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="runbook-alertmanager"`)
		http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	maxBody := b.maxBodyBytes()
	if r.ContentLength > maxBody {
		http.Error(w, bodyCapMessage(maxBody), http.StatusRequestEntityTooLarge)
		return
	}
	var p AlertmanagerPayload
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&p); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			http.Error(w, bodyCapMessage(maxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	if p.Version != "4" {
		http.Error(w, fmt.Sprintf("unsupported webhook version %q, want 4", p.Version), http.StatusBadRequest)
		return
	}
	// Refuse the whole request rather than publish a prefix: a partial
	// publish would be silent about which alerts were dropped, and
	// Alertmanager does not retry a 4xx, so the operator sees the error in
	// Alertmanager's log and lowers its webhook_config max_alerts.
	if maxAlerts := b.maxAlerts(); len(p.Alerts) > maxAlerts {
		http.Error(w, fmt.Sprintf("%d alerts in one request exceed the bridge's cap of %d (alertmanager.max_alerts); set max_alerts: %d in Alertmanager's webhook_config",
			len(p.Alerts), maxAlerts, maxAlerts), http.StatusRequestEntityTooLarge)
		return
	}
	res, err := b.Publish(r.Context(), caller, p)
	status := http.StatusOK
	if err != nil {
		res.Error = err.Error()
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

func bodyCapMessage(max int64) string {
	return fmt.Sprintf("request body exceeds the bridge's cap of %d bytes (alertmanager.max_body_bytes)", max)
}

func (b *AlertmanagerBridge) maxBodyBytes() int64 {
	if b.MaxBodyBytes > 0 {
		return b.MaxBodyBytes
	}
	return DefaultAlertmanagerMaxBodyBytes
}

func (b *AlertmanagerBridge) maxAlerts() int {
	if b.MaxAlerts > 0 {
		return b.MaxAlerts
	}
	return DefaultAlertmanagerMaxAlerts
}

// Publish converts and publishes every firing alert of p, delivered by the
// authenticated caller (see alertCaller): the caller is part of each
// alert's dedup key.
func (b *AlertmanagerBridge) Publish(ctx context.Context, caller string, p AlertmanagerPayload) (WebhookResult, error) {
	log := b.Logger
	if log == nil {
		log = slog.Default()
	}
	if p.TruncatedAlerts > 0 {
		// Alertmanager's max_alerts cut the group: those alerts are not in
		// this payload at all. Say so loudly; raise max_alerts.
		log.Error("alertmanager truncated alerts from the webhook", "truncated", p.TruncatedAlerts, "group", p.GroupKey)
	}
	evs, res := b.Convert(caller, p)
	var errs []error
	for _, ev := range evs {
		ack, err := PublishWithMsgID(ctx, b.JS, ev.Event, ev.dedupKey)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ev.ID, err))
			continue
		}
		if ack.Duplicate {
			res.Repeated++
			continue
		}
		res.Published = append(res.Published, ev.ID)
	}
	for _, s := range res.Skipped {
		log.Warn("alert not turned into a breach event", "fingerprint", s.Fingerprint, "alertname", s.Alertname, "reason", s.Reason)
	}
	return res, errors.Join(errs...)
}
