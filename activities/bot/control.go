package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/runbooks"
)

var botParam = runbooks.ParamSpec{Name: "bot", Type: runbooks.ParamString, Required: true,
	Description: "bot id as configured on the worker"}

// BotParams are the params of bot.unfreeze and bot.status.
type BotParams struct {
	Bot string `json:"bot"`
}

// Validate checks the params.
func (p *BotParams) Validate() error {
	if p.Bot == "" {
		return errors.New("bot is required")
	}
	return nil
}

// FreezeParams are bot.freeze's params.
type FreezeParams struct {
	Bot       string `json:"bot"`
	ForceExit bool   `json:"force_exit"`
}

// Validate checks the params.
func (p *FreezeParams) Validate() error {
	if p.Bot == "" {
		return errors.New("bot is required")
	}
	return nil
}

// FreezeSpec declares bot.freeze.
var FreezeSpec = runbooks.ActionSpec{
	Name: "bot.freeze",
	Description: "Stop the bot from trading and confirm it reports stopped (freqtrade: stopentry, forceexit if asked, stop). " +
		"Freezing does not lock out whoever holds a leaked key: restrict or revoke the key too. Idempotent: a frozen bot stays frozen.",
	Params: []runbooks.ParamSpec{
		botParam,
		{Name: "force_exit", Type: runbooks.ParamBool, Default: false,
			Description: "close open positions at market before stopping"},
	},
	Outputs:    statusOutputNames,
	SideEffect: runbooks.Reversible,
	Compensation: &runbooks.CompensationSpec{Action: "bot.unfreeze", With: map[string]any{
		"bot": "${{ params.bot }}",
	}},
	Needs:   []string{"bot.control"},
	Example: "- id: freeze\n  action: bot.freeze\n  with: {bot: \"${{ event.data.bot }}\", force_exit: false}",
}

// UnfreezeSpec declares bot.unfreeze.
var UnfreezeSpec = runbooks.ActionSpec{
	Name:        "bot.unfreeze",
	Description: "Let the bot trade again and confirm it reports running. Idempotent: a running bot stays running.",
	Params:      []runbooks.ParamSpec{botParam},
	Outputs:     statusOutputNames,
	SideEffect:  runbooks.Reversible,
	Compensation: &runbooks.CompensationSpec{Action: "bot.freeze", With: map[string]any{
		"bot": "${{ params.bot }}",
	}},
	Needs:   []string{"bot.control"},
	Example: "- id: unfreeze\n  action: bot.unfreeze\n  with: {bot: \"${{ inputs.bot }}\"}",
}

// StatusSpec declares bot.status.
var StatusSpec = runbooks.ActionSpec{
	Name:        "bot.status",
	Description: "Ask the bot for its state (running, frozen, stopped, unknown) and open trades.",
	Params:      []runbooks.ParamSpec{botParam},
	Outputs:     statusOutputNames,
	SideEffect:  runbooks.ReadOnly,
	Needs:       []string{"bot.control"},
	Example:     "- id: check-bot\n  action: bot.status\n  with: {bot: \"${{ inputs.bot }}\"}",
}

func freeze(d Deps) activities.Action {
	return activities.Typed(FreezeSpec, func(ctx context.Context, req runbooks.ActionRequest, p FreezeParams) (runbooks.ActionResult, error) {
		c, err := d.controller(ctx, p.Bot)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		st, err := c.Freeze(ibot.WithIncident(ctx, req.IncidentID), ibot.FreezeOptions{ForceExit: p.ForceExit})
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		return runbooks.ActionResult{
			Outputs: statusOutputs(st),
			Summary: fmt.Sprintf("froze bot %s: %s, %d open trades", p.Bot, st.State, st.OpenTrades),
		}, nil
	})
}

func unfreeze(d Deps) activities.Action {
	return activities.Typed(UnfreezeSpec, func(ctx context.Context, req runbooks.ActionRequest, p BotParams) (runbooks.ActionResult, error) {
		c, err := d.controller(ctx, p.Bot)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		st, err := c.Unfreeze(ibot.WithIncident(ctx, req.IncidentID))
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		return runbooks.ActionResult{
			Outputs: statusOutputs(st),
			Summary: fmt.Sprintf("unfroze bot %s: %s", p.Bot, st.State),
		}, nil
	})
}

func status(d Deps) activities.Action {
	return activities.Typed(StatusSpec, func(ctx context.Context, req runbooks.ActionRequest, p BotParams) (runbooks.ActionResult, error) {
		c, err := d.controller(ctx, p.Bot)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		st, err := c.Status(ibot.WithIncident(ctx, req.IncidentID))
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		return runbooks.ActionResult{
			Outputs: statusOutputs(st),
			Summary: fmt.Sprintf("bot %s is %s with %d open trades", p.Bot, st.State, st.OpenTrades),
		}, nil
	})
}

// statusOutputs are what freeze, unfreeze and status return: the state the
// bot reported, as text and as the two booleans conditions want.
var statusOutputNames = []string{"state", "frozen", "running", "open_trades", "detail"}

func statusOutputs(st ibot.Status) map[string]any {
	return map[string]any{
		"state":       string(st.State),
		"frozen":      st.State.Halted(),
		"running":     st.State == ibot.Running,
		"open_trades": st.OpenTrades,
		"detail":      st.Detail,
	}
}
