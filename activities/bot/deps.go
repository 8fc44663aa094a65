// Package bot holds the bot-control actions: bot.freeze, bot.unfreeze,
// bot.status, bot.deliver_key and bot.info, and their fleet forms
// bot.select and bot.freeze_many for a mass breach. They adapt
// integrations/bot controllers to the action registry; the controllers do
// the verifying (a freeze is only reported once the bot says it is
// stopped) and are idempotent, so a retried or replayed action repeats no
// harm.
//
// Secrets: bot.deliver_key takes a secret reference, resolves it itself
// and returns only the key id and a fingerprint.
package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	ibot "github.com/keyresponse/runbook/integrations/bot"
)

// SecretReader resolves a secret reference ("name" or "name@3") to its
// stored value; the worker wires it to the secret store.
type SecretReader = ibot.SecretReader

// Deps are what the actions need from the worker.
type Deps struct {
	// Bots resolves a bot id (the `bot` param) to its controller, e.g.
	// botfactory.Resolver.
	Bots func(id string) (ibot.Controller, error)
	// Secrets resolves bot.deliver_key's secret_ref.
	Secrets SecretReader
	// Info answers bot.info from the engine's configuration and secret
	// store (which exchange account, sub-account, IPs, current key).
	Info func(ctx context.Context, id string) (Info, error)
	// BotsOn lists the ids of every bot configured on an exchange account
	// (config bots[].account), sorted: bot.select's "whole fleet" when an
	// account-wide breach names no bots.
	BotsOn func(ctx context.Context, account string) ([]string, error)
}

// Error types specific to the bot actions.
const (
	ErrBotRejected    = "BotRejected"    // the bot refused the command: not retried
	ErrBotNotVerified = "BotNotVerified" // command accepted, state not reached: retried
	ErrSecretStore    = "SecretStoreError"
)

func (d Deps) controller(ctx context.Context, id string) (ibot.Controller, error) {
	if d.Bots == nil {
		return nil, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no bot resolver configured"))
	}
	c, err := d.Bots(id)
	if err != nil {
		return nil, ActivityError(err)
	}
	return c, nil
}

// ActivityError maps a bot error to the activity error kinds the workflow's
// retry policy keys off.
func ActivityError(err error) error {
	if err == nil {
		return nil
	}
	if activities.ErrorType(err) != "" {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return activities.Retryable(activities.ErrNetwork, err)
	}
	var e *ibot.Error
	if !errors.As(err, &e) {
		return activities.Retryable(activities.ErrUnavailable, err)
	}
	switch e.Kind {
	case ibot.KindAuth:
		return activities.NonRetryable(activities.ErrAuthentication, err)
	case ibot.KindRateLimited:
		return activities.RetryAfter(err, e.RetryAfter)
	case ibot.KindUnavailable:
		return activities.Retryable(activities.ErrUnavailable, err)
	case ibot.KindRejected:
		return activities.NonRetryable(ErrBotRejected, err)
	case ibot.KindNotVerified:
		return activities.Retryable(ErrBotNotVerified, err)
	case ibot.KindInvalid:
		return activities.NonRetryable(activities.ErrInvalidParams, err)
	}
	return activities.Retryable(activities.ErrUnavailable, fmt.Errorf("unclassified: %w", err))
}

// Actions returns every bot action, for activities.NewRegistry.
func Actions(d Deps) []activities.Action {
	return []activities.Action{freeze(d), unfreeze(d), status(d), deliverKey(d), botInfo(d), selectBots(d), freezeMany(d)}
}
