// Package bottest has an in-memory bot (a bot.Handler) for tests and demos
// of the webhook and NATS transports.
package bottest

import (
	"context"
	"sync"

	"github.com/keyresponse/runbook/integrations/bot"
)

// MemBot is a bot that trades in memory: running or frozen, some open
// trades, the credentials it was handed.
type MemBot struct {
	mu         sync.Mutex
	state      bot.State
	openTrades int
	creds      bot.Credentials
	deliveries int
	calls      []string
	incidents  []string
}

var _ bot.Handler = (*MemBot)(nil)
var _ bot.Reloader = (*MemBot)(nil)

// New returns a running MemBot with openTrades open trades.
func New(openTrades int) *MemBot { return &MemBot{state: bot.Running, openTrades: openTrades} }

func (m *MemBot) note(ctx context.Context, call string) {
	m.calls = append(m.calls, call)
	m.incidents = append(m.incidents, bot.IncidentFrom(ctx))
}

// Freeze halts the bot; forceExit closes its trades.
func (m *MemBot) Freeze(ctx context.Context, forceExit bool) (bot.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.note(ctx, "freeze")
	if forceExit {
		m.openTrades = 0
	}
	m.state = bot.Frozen
	return m.statusLocked(), nil
}

// Unfreeze lets the bot trade again.
func (m *MemBot) Unfreeze(ctx context.Context) (bot.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.note(ctx, "unfreeze")
	m.state = bot.Running
	return m.statusLocked(), nil
}

// Status reports the state.
func (m *MemBot) Status(ctx context.Context) (bot.Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.note(ctx, "status")
	return m.statusLocked(), nil
}

// Deliver keeps the credentials.
func (m *MemBot) Deliver(ctx context.Context, c bot.Credentials) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.note(ctx, "deliver")
	m.creds = c
	m.deliveries++
	return nil
}

// Reload does nothing but count.
func (m *MemBot) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.note(ctx, "reload")
	return nil
}

func (m *MemBot) statusLocked() bot.Status {
	return bot.Status{State: m.state, OpenTrades: m.openTrades}
}

// State is the bot's state.
func (m *MemBot) State() bot.State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Credentials are the last delivered credentials.
func (m *MemBot) Credentials() bot.Credentials {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.creds
}

// Deliveries counts Deliver calls.
func (m *MemBot) Deliveries() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deliveries
}

// Calls lists the handler calls in order; Incidents the incident each
// carried.
func (m *MemBot) Calls() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.calls...)
}

// Incidents see Calls.
func (m *MemBot) Incidents() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.incidents...)
}
