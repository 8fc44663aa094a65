package ingest

import (
	"github.com/keyresponse/runbook/events/jsutil"

	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// LimitConfig caps automatic incidents per sliding window. Zero caps mean
// no limit. Past a cap, new incidents still start (containment such as
// freezing the bot is reversible and urgent) but with HoldIrreversible, so
// revoking keys, SMS and other irreversible steps wait for on-call approve:
// a mass-misfire of the detector cannot revoke every key of every bot.
type LimitConfig struct {
	Window      time.Duration // default 10m
	Global      int           // max incidents started in Window, all exchanges
	PerExchange int           // max incidents started in Window per exchange
}

func (c LimitConfig) window() time.Duration {
	if c.Window <= 0 {
		return 10 * time.Minute
	}
	return c.Window
}

// Limiter decides whether a new incident must hold its irreversible steps.
// Check runs before the start; Record after a start that really created an
// incident (not a signal), at most once per incident id.
type Limiter interface {
	Check(ctx context.Context, exchange string) (hold bool, reason string, err error)
	Record(ctx context.Context, incidentID, exchange string) error
}

// FleetLimiter is a Limiter that can judge n incidents at once: a fleet
// start stands for n bots' incidents, and the cap must see all of them,
// not one.
type FleetLimiter interface {
	Limiter
	CheckN(ctx context.Context, exchange string, n int) (hold bool, reason string, err error)
}

func holdReason(c LimitConfig, scope string, n int) string {
	return fmt.Sprintf("blast-radius limit: %d automatic incidents %s in the last %s (cap %d); irreversible steps wait for on-call approve",
		n, scope, c.window(), capOf(c, scope))
}

func capOf(c LimitConfig, scope string) int {
	if scope == "in total" {
		return c.Global
	}
	return c.PerExchange
}

func exchangeKey(exchange string) string {
	if exchange == "" {
		return "unknown"
	}
	return exchange
}

// MemoryLimiter keeps the window in process memory: counts reset when the
// process restarts and are not shared between consumer instances. Use it
// for `runbook dev` and tests; StreamLimiter for production.
type MemoryLimiter struct {
	Config LimitConfig
	Now    func() time.Time

	mu      sync.Mutex
	started []startRec
}

type startRec struct {
	at       time.Time
	id       string
	exchange string
}

func (l *MemoryLimiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *MemoryLimiter) prune(now time.Time) {
	cut := now.Add(-l.Config.window())
	i := 0
	for i < len(l.started) && !l.started[i].at.After(cut) {
		i++
	}
	l.started = l.started[i:]
}

// Check implements Limiter.
func (l *MemoryLimiter) Check(_ context.Context, exchange string) (bool, string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(l.now())
	ex := exchangeKey(exchange)
	perEx := 0
	for _, s := range l.started {
		if s.exchange == ex {
			perEx++
		}
	}
	if l.Config.Global > 0 && len(l.started) >= l.Config.Global {
		return true, holdReason(l.Config, "in total", len(l.started)), nil
	}
	if l.Config.PerExchange > 0 && perEx >= l.Config.PerExchange {
		return true, holdReason(l.Config, "on "+ex, perEx), nil
	}
	return false, "", nil
}

// Record implements Limiter.
func (l *MemoryLimiter) Record(_ context.Context, incidentID, exchange string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.prune(now)
	for _, s := range l.started {
		if s.id == incidentID {
			return nil
		}
	}
	l.started = append(l.started, startRec{at: now, id: incidentID, exchange: exchangeKey(exchange)})
	return nil
}

// StreamLimiter keeps the window in a JetStream stream whose MaxAge is the
// window: one message per started incident on limits.incidents.<exchange>,
// expired by the server. Counts survive restarts and are shared by every
// consumer instance. Record uses the incident id as Nats-Msg-Id so a retry
// does not count twice.
type StreamLimiter struct {
	Config LimitConfig
	JS     jetstream.JetStream
}

// Names of the limiter stream.
const (
	StreamLimits   = "INCIDENT_LIMITS"
	limitsPrefix   = "limits.incidents."
	SubjectsLimits = limitsPrefix + ">"
)

// NewStreamLimiter creates or updates the limiter stream for cfg.Window.
func NewStreamLimiter(ctx context.Context, js jetstream.JetStream, cfg LimitConfig) (*StreamLimiter, error) {
	dup := 2 * time.Minute
	if dup > cfg.window() {
		dup = cfg.window()
	}
	_, err := jsutil.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:        StreamLimits,
		Description: "one message per automatic incident; MaxAge is the blast-radius window",
		Subjects:    []string{SubjectsLimits},
		Storage:     jetstream.FileStorage,
		MaxAge:      cfg.window(),
		Duplicates:  dup,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", StreamLimits, err)
	}
	return &StreamLimiter{Config: cfg, JS: js}, nil
}

// Check implements Limiter.
func (l *StreamLimiter) Check(ctx context.Context, exchange string) (bool, string, error) {
	return l.CheckN(ctx, exchange, 1)
}

// CheckN implements FleetLimiter: would n more incidents on exchange go
// past a cap?
func (l *StreamLimiter) CheckN(ctx context.Context, exchange string, n int) (bool, string, error) {
	if l.Config.Global <= 0 && l.Config.PerExchange <= 0 {
		return false, "", nil
	}
	ex := exchangeKey(exchange)
	st, err := l.JS.Stream(ctx, StreamLimits)
	if err != nil {
		return false, "", err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(limitsPrefix+ex))
	if err != nil {
		return false, "", err
	}
	n = max(n, 1)
	total := int(info.State.Msgs)
	if l.Config.Global > 0 && total+n > l.Config.Global {
		return true, holdReason(l.Config, "in total", total+n-1), nil
	}
	perEx := int(info.State.Subjects[limitsPrefix+ex])
	if l.Config.PerExchange > 0 && perEx+n > l.Config.PerExchange {
		return true, holdReason(l.Config, "on "+ex, perEx+n-1), nil
	}
	return false, "", nil
}

// Record implements Limiter.
func (l *StreamLimiter) Record(ctx context.Context, incidentID, exchange string) error {
	ex := exchangeKey(exchange)
	if _, _, ok := breach.SplitSubject("breach." + ex + ".x"); !ok {
		return errors.New("limiter: exchange is not a valid subject token")
	}
	msg := nats.NewMsg(limitsPrefix + ex)
	msg.Data = []byte(incidentID)
	_, err := l.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(incidentID))
	return err
}
