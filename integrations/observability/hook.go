package observability

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
)

// StepHook records every action attempt: its duration and outcome by
// action, failures by error kind, and from the action's own name the
// exchange and SMS counters (exchange.* errors and rate limits per
// exchange account; notify.sms sent or failed). Add it to the registry
// next to the audit hook:
//
//	reg.AddHook(observability.NewStepHook(m))
type StepHook struct {
	m *Metrics
	// now is the clock (tests may stop it).
	now func() time.Time

	mu      sync.Mutex
	started map[attemptKey]time.Time
}

var _ activities.Hook = (*StepHook)(nil)

// attemptKey names one attempt of one step: Temporal never runs the same
// attempt twice at once, so the key is unique while it runs.
type attemptKey struct {
	incident, step, action string
	attempt                int32
	compensation           bool
}

// NewStepHook returns a hook observing into m.
func NewStepHook(m *Metrics) *StepHook {
	return &StepHook{m: m, now: time.Now, started: map[attemptKey]time.Time{}}
}

func keyOf(req runbooks.ActionRequest, attempt int32) attemptKey {
	return attemptKey{req.IncidentID, req.StepID, req.Action, attempt, req.Compensation}
}

// ActionStarted implements activities.Hook.
func (h *StepHook) ActionStarted(_ context.Context, req runbooks.ActionRequest, attempt int32) {
	h.mu.Lock()
	h.started[keyOf(req, attempt)] = h.now()
	h.mu.Unlock()
}

// ActionFinished implements activities.Hook.
func (h *StepHook) ActionFinished(_ context.Context, req runbooks.ActionRequest, attempt int32, _ runbooks.ActionResult, err error) {
	k := keyOf(req, attempt)
	h.mu.Lock()
	start, ok := h.started[k]
	delete(h.started, k)
	h.mu.Unlock()
	var d time.Duration
	if ok {
		d = h.now().Sub(start)
	}
	errType := ""
	if err != nil {
		errType = activities.ErrorType(err)
		if errType == "" {
			errType = "error"
		}
	}
	h.m.StepFinished(req.Action, d, err != nil, errType)

	switch {
	case strings.HasPrefix(req.Action, "exchange.") && err != nil:
		ex := exchangeOf(req)
		if errType == activities.ErrRateLimited {
			h.m.ExchangeRateLimited(ex)
		} else {
			h.m.ExchangeAPIError(ex, errType)
		}
	case req.Action == "notify.sms" && err == nil:
		h.m.SMSSent()
	case req.Action == "notify.sms":
		h.m.SMSFailed(errType)
	}
}

// exchangeOf is the exchange account an exchange.* step acted on: its
// `exchange` parameter, a configured account name. The parameter may be
// templated from an event, so anything that does not look like an account
// name becomes "other": a label must stay a small set.
func exchangeOf(req runbooks.ActionRequest) string {
	v, ok := req.Params["exchange"]
	if !ok {
		return ""
	}
	s := fmt.Sprint(v)
	if !accountName.MatchString(s) {
		return "other"
	}
	return s
}

var accountName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)
