// Package bot is the engine's view of a trading bot: freeze it, unfreeze it,
// ask its state, hand it new exchange credentials, make it reload. One
// package per kind of bot implements Controller (freqtrade's REST API, a
// signed HTTP webhook, a NATS control subject); botfactory builds the right
// one from configuration.
//
// A freeze is only reported once the bot itself says it is no longer
// trading: implementations verify, they never assume.
package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// State is what the bot reports about itself.
type State string

const (
	// Running: the bot trades (may open new positions).
	Running State = "running"
	// Frozen: the bot is up but places no orders (freqtrade "stopped").
	Frozen State = "frozen"
	// Stopped: the bot reports it has shut its trading process down.
	Stopped State = "stopped"
	// Unknown: the bot answered with a state we cannot map (e.g. a
	// freqtrade reload in progress).
	Unknown State = "unknown"
)

// Halted reports whether the state means "places no orders".
func (s State) Halted() bool { return s == Frozen || s == Stopped }

// ParseState maps a wire value to a State (Unknown for anything else).
func ParseState(s string) State {
	switch State(s) {
	case Running, Frozen, Stopped:
		return State(s)
	}
	return Unknown
}

// Status is a bot's answer to "how are you".
type Status struct {
	State      State  `json:"state"`
	OpenTrades int    `json:"open_trades"`
	Detail     string `json:"detail,omitempty"`
}

// FreezeOptions tune a freeze.
type FreezeOptions struct {
	// ForceExit closes open positions at market before stopping. Off by
	// default: closing positions is a trading decision, freezing is not.
	ForceExit bool
}

// Controller controls one bot. Every method must be safe to call again
// with the same arguments (activities retry): freezing a frozen bot and
// delivering the same credentials twice succeed.
type Controller interface {
	// Freeze stops the bot from trading and returns the state the bot
	// reports afterwards; an error of KindNotVerified when it still trades.
	Freeze(ctx context.Context, opts FreezeOptions) (Status, error)
	// Unfreeze lets the bot trade again, verified the same way.
	Unfreeze(ctx context.Context) (Status, error)
	// Status asks the bot for its state.
	Status(ctx context.Context) (Status, error)
	// DeliverCredentials hands the bot new exchange credentials and makes
	// it use them. It never changes whether the bot is frozen.
	DeliverCredentials(ctx context.Context, c Credentials) error
	// Reload makes the bot re-read its configuration.
	Reload(ctx context.Context) error
}

// SecretReader resolves a secret reference ("name" or "name@3") to its
// value. The worker wires it to the secret store.
type SecretReader interface {
	Get(ctx context.Context, ref string) ([]byte, error)
}

// ErrorKind classifies a failure so activities can decide about retries.
type ErrorKind string

const (
	KindAuth        ErrorKind = "auth"         // the bot refused our credentials
	KindRateLimited ErrorKind = "rate_limited" // wait RetryAfter
	KindUnavailable ErrorKind = "unavailable"  // network error, timeout, 5xx
	KindRejected    ErrorKind = "rejected"     // the bot refused the command
	KindNotVerified ErrorKind = "not_verified" // command accepted, state not reached
	KindInvalid     ErrorKind = "invalid"      // bad configuration or arguments
)

// Error is every failure a Controller reports.
type Error struct {
	Kind       ErrorKind
	Bot        string
	Op         string
	Message    string
	RetryAfter time.Duration // KindRateLimited only; 0 = unknown
	Err        error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("bot %s: %s: %s", e.Bot, e.Op, e.Message)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err ("" when it is not an *Error).
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// Errorf builds an *Error.
func Errorf(kind ErrorKind, botID, op, format string, args ...any) *Error {
	return &Error{Kind: kind, Bot: botID, Op: op, Message: fmt.Sprintf(format, args...)}
}

type incidentKey struct{}

// WithIncident records the incident a command belongs to; webhook and NATS
// bots receive it with the command (for their own logs and dedup).
func WithIncident(ctx context.Context, incident string) context.Context {
	return context.WithValue(ctx, incidentKey{}, incident)
}

// IncidentFrom returns the incident recorded by WithIncident, or "".
func IncidentFrom(ctx context.Context) string {
	s, _ := ctx.Value(incidentKey{}).(string)
	return s
}

// Handler is the bot's side of a control transport (webhook receiver, NATS
// botclient): what a bot implements to be frozen, unfrozen, asked and
// handed credentials. Freeze must return only once the bot places no more
// orders, and report the state it is really in.
type Handler interface {
	Freeze(ctx context.Context, forceExit bool) (Status, error)
	Unfreeze(ctx context.Context) (Status, error)
	Status(ctx context.Context) (Status, error)
	Deliver(ctx context.Context, c Credentials) error
}

// Reloader is optionally implemented by a Handler that can re-read its
// configuration.
type Reloader interface {
	Reload(ctx context.Context) error
}
