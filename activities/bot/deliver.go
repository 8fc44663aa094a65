package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

// DeliverKeyParams are bot.deliver_key's params.
type DeliverKeyParams struct {
	Bot       string `json:"bot"`
	Exchange  string `json:"exchange"`
	KeyID     string `json:"key_id"`
	SecretRef string `json:"secret_ref"`
}

// Validate checks the params.
func (p *DeliverKeyParams) Validate() error {
	if p.Bot == "" || p.Exchange == "" || p.KeyID == "" || p.SecretRef == "" {
		return errors.New("bot, exchange, key_id and secret_ref are required")
	}
	return nil
}

// DeliverKeySpec declares bot.deliver_key.
var DeliverKeySpec = runbooks.ActionSpec{
	Name: "bot.deliver_key",
	Description: "Hand the bot the API key stored at secret_ref (freqtrade: secrets config file written 0600, then reload_config; " +
		"webhook: over https only; NATS: sealed to the bot's key). The bot keeps its run state. The stored key must be key_id. " +
		"Idempotent: delivering the same key again succeeds.",
	Params: []runbooks.ParamSpec{
		botParam,
		{Name: "exchange", Type: runbooks.ParamString, Required: true, Description: "exchange the key belongs to"},
		{Name: "key_id", Type: runbooks.ParamString, Required: true, Description: "public id of the key to deliver"},
		{Name: "secret_ref", Type: runbooks.ParamString, Required: true,
			Description: "secret reference of the stored key (name or name@version), e.g. exchange.create_key's secret_ref"},
	},
	Outputs:    []string{"delivered", "fingerprint", "key_id", "secret_ref"},
	SideEffect: runbooks.Irreversible, // the bot has seen the secret; that cannot be undone
	Needs:      []string{"bot.control", "secrets.store"},
	Example: "- id: deliver\n  action: bot.deliver_key\n  with:\n    bot: \"${{ inputs.bot }}\"\n    exchange: binance\n" +
		"    key_id: \"${{ steps.new_key.outputs.key_id }}\"\n    secret_ref: \"${{ steps.new_key.outputs.secret_ref }}\"",
}

// storedCredential is how the exchange actions keep a key in the secret
// store (activities/exchange.StoredCredential).
type storedCredential struct {
	APIKey     string `json:"api_key"`
	Secret     string `json:"secret"`
	Passphrase string `json:"passphrase,omitempty"`
}

func deliverKey(d Deps) activities.Action {
	return activities.Typed(DeliverKeySpec, func(ctx context.Context, req runbooks.ActionRequest, p DeliverKeyParams) (runbooks.ActionResult, error) {
		if d.Secrets == nil {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no secret store configured"))
		}
		c, err := d.controller(ctx, p.Bot)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		raw, err := d.Secrets.Get(ctx, p.SecretRef)
		if errors.Is(err, secrets.ErrNotFound) {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrNotFound, fmt.Errorf("secret %s not found", p.SecretRef))
		}
		if err != nil {
			return runbooks.ActionResult{}, activities.Retryable(ErrSecretStore, fmt.Errorf("secret %s: %w", p.SecretRef, err))
		}
		var s storedCredential
		// The decode error is not wrapped: its text can quote the value.
		if json.Unmarshal(raw, &s) != nil || s.APIKey == "" || s.Secret == "" {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams,
				fmt.Errorf("secret %s does not hold an API credential", p.SecretRef))
		}
		if s.APIKey != p.KeyID {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams,
				fmt.Errorf("secret %s holds key %s, not %s", p.SecretRef, ibot.ShortID(s.APIKey), ibot.ShortID(p.KeyID)))
		}
		cred := ibot.Credentials{Exchange: p.Exchange, APIKey: s.APIKey, Secret: s.Secret, Passphrase: s.Passphrase}
		if err := c.DeliverCredentials(ibot.WithIncident(ctx, req.IncidentID), cred); err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{
				"delivered": true, "fingerprint": cred.Fingerprint(), "key_id": p.KeyID, "secret_ref": p.SecretRef,
			},
			Summary: fmt.Sprintf("delivered key %s (%s) to bot %s", ibot.ShortID(p.KeyID), cred.Fingerprint(), p.Bot),
		}, nil
	})
}
