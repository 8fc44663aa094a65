package bot

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
)

// Info is what the engine knows about a bot: where its key lives and where
// it may be used from. Runbooks read it in a first step so that an event
// carrying only a bot id is enough to contain a breach.
type Info struct {
	// Account is the engine's exchange account name (config exchanges[].name).
	Account string `json:"account"`
	// Exchange is binance, okx or bybit.
	Exchange string `json:"exchange"`
	// SubAccount is how the exchange's key API names the bot's sub-account.
	SubAccount string `json:"sub_account"`
	// IPs are the bot's egress IPs: new keys are whitelisted to them.
	IPs []string `json:"ips"`
	// EngineIPs are the engine's egress IPs towards the exchange; the leaked
	// key keeps them until it is revoked so the engine can still cancel
	// the bot's orders with it.
	EngineIPs []string `json:"engine_ips"`
	// KeyID and CredentialRef are the bot's current key and the secret
	// store reference of its credential (name@version).
	KeyID         string `json:"key_id"`
	CredentialRef string `json:"credential_ref"`
	// SecretName is where a new key's credential is stored.
	SecretName string `json:"secret_name"`
	// VerifyFrom is the local address the worker can call the exchange from
	// to check the new key as the bot would ("" when the worker does not
	// hold a bot IP: then verification skips that check).
	VerifyFrom string `json:"verify_from"`
}

// InfoParams are bot.info's params.
type InfoParams struct {
	Bot string `json:"bot"`
}

// Validate checks the bot id.
func (p *InfoParams) Validate() error {
	if p.Bot == "" {
		return errors.New("bot is required")
	}
	return nil
}

// InfoSpec declares bot.info.
var InfoSpec = runbooks.ActionSpec{
	Name: "bot.info",
	Description: "Look up a bot in the engine's configuration: exchange account, sub-account, egress IPs, the engine's " +
		"IPs, and its current key id and credential reference (never the secret).",
	Params:     []runbooks.ParamSpec{{Name: "bot", Type: runbooks.ParamString, Required: true}},
	Outputs:    []string{"account", "exchange", "sub_account", "ips", "engine_ips", "key_id", "credential_ref", "secret_name", "verify_from"},
	SideEffect: runbooks.ReadOnly,
	Needs:      []string{"config.bots", "secrets.store"},
	Example:    "- id: info\n  action: bot.info\n  with: {bot: \"${{ inputs.bot }}\"}",
}

func botInfo(d Deps) activities.Action {
	return activities.Typed(InfoSpec, func(ctx context.Context, req runbooks.ActionRequest, p InfoParams) (runbooks.ActionResult, error) {
		if d.Info == nil {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no bot configuration available"))
		}
		in, err := d.Info(ctx, p.Bot)
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{
				"account": in.Account, "exchange": in.Exchange, "sub_account": in.SubAccount,
				"ips": toAny(in.IPs), "engine_ips": toAny(in.EngineIPs), "key_id": in.KeyID,
				"credential_ref": in.CredentialRef, "secret_name": in.SecretName, "verify_from": in.VerifyFrom,
			},
			Summary: fmt.Sprintf("%s trades on %s (%s) from %v with key %s", p.Bot, in.Account, in.SubAccount, in.IPs, in.KeyID),
		}, nil
	})
}

// toAny keeps lists as []any so templates and JSON round trips agree.
func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
