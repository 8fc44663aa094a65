package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/events/audit/redact"
	"github.com/keyresponse/runbook/runbooks"
)

// DefaultKeyActions maps the exchange actions that change a key to the
// change recorded in key.changed.
var DefaultKeyActions = map[string]string{
	"exchange.revoke_key":       "revoked",
	"exchange.create_key":       "created",
	"exchange.set_ip_whitelist": "ip whitelist",
	"exchange.set_permissions":  "permissions",
}

// Hook writes step facts from inside every action activity
// (activities.Registry.AddHook): started (attempt 1) or retried (attempt >
// 1), then succeeded, failed or compensated; a succeeded key-changing action
// also writes key.changed and a notify.* action notification.sent. The
// idempotency key is incident/step/attempt/kind, so a replayed or retried
// activity writes each fact once.
//
// A hook must not fail the action (containment matters more than its
// record), so problems are logged and counted; Failures exposes the count
// for health checks and tests.
type Hook struct {
	Store *Store
	// Timeout bounds each append; the activity's own context is not used
	// for the deadline because a timed-out activity must still get its
	// failure recorded.
	Timeout time.Duration
	// TryTimeout bounds one try of an append inside Timeout. A request
	// in flight when the NATS server goes away gets no answer at all: one
	// try waiting out the whole Timeout would lose the record, several
	// shorter tries write it once the client has reconnected. Default 2s.
	TryTimeout time.Duration
	Logger     *slog.Logger
	KeyActions map[string]string
	failures   atomic.Int64
	// started holds, per running attempt, the write of its started record:
	// the action does not wait for it (containment first), the attempt's
	// end record waits for it (so the chain keeps started before ended).
	started sync.Map // attemptKey -> chan struct{}
}

type attemptKey struct {
	incident, step string
	attempt        int32
	compensation   bool
}

var _ activities.Hook = (*Hook)(nil)

// NewHook returns a hook writing to s with the default settings.
func NewHook(s *Store) *Hook {
	return &Hook{Store: s, Timeout: 30 * time.Second, TryTimeout: 2 * time.Second, Logger: slog.Default(), KeyActions: DefaultKeyActions}
}

// Failures is how many facts this hook could not write.
func (h *Hook) Failures() int64 { return h.failures.Load() }

// ActionStarted implements activities.Hook.
func (h *Hook) ActionStarted(ctx context.Context, req runbooks.ActionRequest, attempt int32) {
	kind := StepStarted
	if attempt > 1 {
		kind = StepRetried
	}
	rec := StepFact(req.IncidentID, req.StepID, kind, attempt, req.Compensation, map[string]string{"action": req.Action})
	rec.Run = runOf(ctx, rec.Run)
	done := make(chan struct{})
	h.started.Store(attemptKey{req.IncidentID, req.StepID, attempt, req.Compensation}, done)
	go func() {
		defer close(done)
		h.append(context.WithoutCancel(ctx), rec)
	}()
}

// waitStarted waits until the attempt's started record is written (or its
// append gave up).
func (h *Hook) waitStarted(req runbooks.ActionRequest, attempt int32) {
	if v, ok := h.started.LoadAndDelete(attemptKey{req.IncidentID, req.StepID, attempt, req.Compensation}); ok {
		<-v.(chan struct{})
	}
}

// ActionFinished implements activities.Hook.
func (h *Hook) ActionFinished(ctx context.Context, req runbooks.ActionRequest, attempt int32, res runbooks.ActionResult, err error) {
	h.waitStarted(req, attempt)
	if err != nil {
		a := map[string]string{"action": req.Action, "error": err.Error(), "retryable": fmt.Sprint(retryable(err))}
		if t := activities.ErrorType(err); t != "" {
			a["error_type"] = t
		}
		h.append(ctx, StepFact(req.IncidentID, req.StepID, StepFailed, attempt, req.Compensation, a))
		return
	}
	a := map[string]string{"action": req.Action}
	if res.Summary != "" {
		a["summary"] = res.Summary
	}
	h.Store.redactor.Any("out", res.Outputs, a)
	if b, ok := res.Outputs["contained"].(bool); ok && b {
		a["contained"] = "true"
	}
	kind := StepSucceeded
	if req.Compensation {
		kind = StepCompensated
	}
	h.append(ctx, StepFact(req.IncidentID, req.StepID, kind, attempt, req.Compensation, a))
	if req.Compensation {
		return
	}
	if change, ok := h.KeyActions[req.Action]; ok {
		h.append(ctx, KeyChangedFact(req.IncidentID, req.StepID, keyChange(change, req.Params, res.Outputs)))
	}
	if ch, ok := strings.CutPrefix(req.Action, "notify."); ok {
		h.append(ctx, NotificationFact(req.IncidentID, req.StepID, Notification{
			Channel:   ch,
			To:        redact.Mask(pick(res.Outputs, req.Params, "to", "recipient", "phone")),
			MessageID: pick(res.Outputs, nil, "message_sid", "sid", "message_id"),
		}))
	}
}

// append writes rec, trying again (Append is idempotent per fact) until
// it is written or Timeout is spent.
func (h *Hook) append(ctx context.Context, rec Record) {
	rec.Run = runOf(ctx, rec.Run)
	try := h.TryTimeout
	if try <= 0 || try > h.Timeout {
		try = h.Timeout
	}
	deadline := time.Now().Add(h.Timeout)
	var err error
	for attempt := 0; ; attempt++ {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(try, left))
		_, err = h.Store.Append(tctx, rec)
		cancel()
		if err == nil {
			return
		}
		pause := min(time.Duration(attempt+1)*100*time.Millisecond, time.Second)
		if time.Until(deadline) <= pause {
			break
		}
		time.Sleep(pause)
	}
	h.failures.Add(1)
	h.Logger.Error("audit record not written", "incident", rec.IncidentID, "kind", rec.Kind, "step", rec.Step, "err", err)
}

// keyChange gathers what the action reported about the key it changed.
// Action outputs win over params (create_key's key id is an output).
func keyChange(change string, params, outputs map[string]any) KeyChange {
	c := KeyChange{
		Exchange:    pick(outputs, params, "exchange"),
		KeyID:       pick(outputs, params, "key_id", "new_key_id", "api_key_id"),
		Fingerprint: pick(outputs, nil, "fingerprint", "key_fingerprint"),
		Change:      change,
	}
	if s := pick(outputs, nil, "key_changed", "change"); s != "" {
		c.Change = s
	}
	var detail []string
	for _, k := range []string{"ips", "permissions", "withdrawals"} {
		if s := pick(outputs, params, k); s != "" {
			detail = append(detail, k+"="+s)
		}
	}
	c.Detail = strings.Join(detail, " ")
	return c
}

// pick returns the first of keys present in a, then in b, as a string.
func pick(a, b map[string]any, keys ...string) string {
	for _, m := range []map[string]any{a, b} {
		for _, k := range keys {
			if v, ok := m[k]; ok && v != nil {
				if l, ok := v.([]any); ok {
					parts := make([]string, len(l))
					for i, e := range l {
						parts[i] = fmt.Sprint(e)
					}
					return strings.Join(parts, ",")
				}
				return fmt.Sprint(v)
			}
		}
	}
	return ""
}

// runOf returns run, or the workflow run id of the activity running in ctx.
func runOf(ctx context.Context, run string) string {
	if run == "" && activity.IsActivity(ctx) {
		return activity.GetInfo(ctx).WorkflowExecution.RunID
	}
	return run
}

func retryable(err error) bool {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return !ae.NonRetryable()
	}
	return true
}
