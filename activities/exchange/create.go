package exchange

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/keyresponse/runbook/activities"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

// CreateKeyParams are exchange.create_key's params.
type CreateKeyParams struct {
	Exchange    string   `json:"exchange"`
	SubAccount  string   `json:"sub_account"`
	IPWhitelist []string `json:"ip_whitelist"`
	Trade       bool     `json:"trade"`
	Futures     bool     `json:"futures"`
	Withdraw    bool     `json:"withdraw"`
	Label       string   `json:"label"`
	SecretName  string   `json:"secret_name"`
}

// Validate checks the params: a whitelist is mandatory — an unrestricted
// bot key is the very thing containment cleans up.
func (p *CreateKeyParams) Validate() error {
	if p.Exchange == "" || p.SubAccount == "" {
		return errors.New("exchange and sub_account are required")
	}
	if len(xchg.NormalizeIPs(p.IPWhitelist)) == 0 {
		return errors.New("ip_whitelist is required and must not be empty")
	}
	for _, ip := range p.IPWhitelist {
		if net.ParseIP(strings.TrimSpace(ip)) == nil {
			if _, _, err := net.ParseCIDR(strings.TrimSpace(ip)); err != nil {
				return fmt.Errorf("ip_whitelist: %q is not an IP address or CIDR", ip)
			}
		}
	}
	if p.SecretName != "" {
		if err := secrets.ValidName(p.SecretName); err != nil {
			return err
		}
	}
	return nil
}

// CreateKeySpec declares exchange.create_key.
var CreateKeySpec = runbooks.ActionSpec{
	Name: "exchange.create_key",
	Description: "Create a least-privilege API key on the bot's sub-account: trade only by default (withdrawals " +
		"and futures off unless asked), restricted to ip_whitelist (required). The secret goes straight into the " +
		"secret store; the result holds key id, fingerprint and secret reference only. Idempotent: a key labelled " +
		"for this incident and step is reused; one whose secret was lost (an answer lost in transit) is revoked " +
		"and replaced.",
	Params: []runbooks.ParamSpec{
		exchangeParam, subAccountParam,
		{Name: "ip_whitelist", Type: runbooks.ParamList, Required: true, Description: "the bot's egress IPs"},
		{Name: "trade", Type: runbooks.ParamBool, Default: true},
		{Name: "futures", Type: runbooks.ParamBool, Default: false},
		{Name: "withdraw", Type: runbooks.ParamBool, Default: false, Description: "almost never: a bot key must not withdraw"},
		{Name: "label", Type: runbooks.ParamString, Description: "default rb-<incident>-<step>"},
		{Name: "secret_name", Type: runbooks.ParamString, Description: "default <exchange>/<sub_account>/api-key"},
	},
	Outputs:    []string{"key_id", "label", "fingerprint", "secret_ref", "secret_name", "secret_version", "ip_whitelist", "permissions", "reused", "replaced_orphan"},
	SideEffect: runbooks.Reversible,
	Compensation: &runbooks.CompensationSpec{Action: "exchange.revoke_key", With: map[string]any{
		"exchange": "${{ params.exchange }}", "sub_account": "${{ params.sub_account }}", "key_id": "${{ outputs.key_id }}",
	}},
	Needs: []string{"exchange.management_credential", "secrets.store"},
	Example: "- id: new-key\n  action: exchange.create_key\n  with:\n    exchange: binance\n    sub_account: bot-1@example.com\n" +
		"    ip_whitelist: [\"203.0.113.10\"]",
}

func createKey(d Deps) activities.Action {
	return activities.Typed(CreateKeySpec, func(ctx context.Context, req runbooks.ActionRequest, p CreateKeyParams) (runbooks.ActionResult, error) {
		if d.Secrets == nil {
			return runbooks.ActionResult{}, activities.NonRetryable(activities.ErrInvalidParams, errors.New("no secret store configured"))
		}
		ex, err := d.exchange(ctx, p.Exchange)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		if !ex.Capabilities().ManageSubAccountKeys {
			return runbooks.ActionResult{}, activities.NonRetryable(ErrUnsupported,
				fmt.Errorf("%s: no key-management API; create the key in the web UI", p.Exchange))
		}
		label := p.Label
		if label == "" {
			label = DefaultLabel(req.IncidentID, req.StepID)
		}
		secretName := p.SecretName
		if secretName == "" {
			secretName = DefaultSecretName(p.Exchange, p.SubAccount)
		}
		ips := xchg.NormalizeIPs(p.IPWhitelist)
		perms := xchg.Permissions{Read: true, Trade: p.Trade, Futures: p.Futures, Withdraw: p.Withdraw}

		// 1. A key for this incident+step may exist from an earlier attempt.
		existing, found, err := xchg.FindByLabel(ctx, ex, p.SubAccount, label)
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		replacedOrphan := ""
		if found {
			v, stored, err := secrets.FindByMeta(ctx, d.Secrets, secretName, "key_id", existing.ID)
			if err != nil {
				return runbooks.ActionResult{}, activities.Retryable(ErrSecretStore, err)
			}
			if stored {
				// Reuse it, making sure it is as asked (an earlier attempt may
				// have stopped between create and a later change).
				if !xchg.SameIPs(existing.IPWhitelist, ips) {
					if _, err := ex.SetIPWhitelist(ctx, p.SubAccount, existing.ID, ips); err != nil {
						return runbooks.ActionResult{}, ActivityError(err)
					}
				}
				if existing.Permissions != perms {
					if err := ex.SetPermissions(ctx, p.SubAccount, existing.ID, perms); err != nil {
						return runbooks.ActionResult{}, ActivityError(err)
					}
				}
				return createResult(existing.ID, label, v.Ref, ips, perms, true, ""), nil
			}
			// The key exists but its secret never reached the store (the
			// exchange's answer was lost): nobody can use it. Remove it so
			// exactly one live key carries this label, then create anew.
			if err := ex.RevokeKey(ctx, p.SubAccount, existing.ID); err != nil && !xchg.IsNotFound(err) {
				return runbooks.ActionResult{}, ActivityError(err)
			}
			replacedOrphan = existing.ID
		}

		// 2. Create, then store the secret before anything else can fail.
		nk, err := ex.CreateKey(ctx, xchg.CreateKeyRequest{SubAccount: p.SubAccount, Label: label, Permissions: perms, IPWhitelist: ips})
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		ref, err := d.Secrets.Put(ctx, secretName, EncodeCredential(nk.Credential()), map[string]string{
			"key_id": nk.ID, "label": label, "exchange": p.Exchange, "sub_account": p.SubAccount,
			"incident": req.IncidentID, "step": req.StepID,
		})
		if err != nil {
			// The next attempt finds the key by label without a stored
			// secret, revokes it and creates another.
			return runbooks.ActionResult{}, activities.Retryable(ErrSecretStore, fmt.Errorf("store secret of key %s: %w", short(nk.ID), err))
		}
		return createResult(nk.ID, label, ref, ips, perms, false, replacedOrphan), nil
	})
}

func createResult(keyID, label string, ref secrets.Ref, ips []string, perms xchg.Permissions, reused bool, orphan string) runbooks.ActionResult {
	verb := "created"
	if reused {
		verb = "reused"
	}
	return runbooks.ActionResult{
		Outputs: map[string]any{
			"key_id":          keyID,
			"label":           label,
			"fingerprint":     ref.Fingerprint,
			"secret_ref":      ref.String(),
			"secret_name":     ref.Name,
			"secret_version":  ref.Version,
			"ip_whitelist":    ips,
			"permissions":     perms.String(),
			"reused":          reused,
			"replaced_orphan": orphan,
		},
		Summary: fmt.Sprintf("%s key %s (%s; whitelist %s; secret %s fp %s)", verb, short(keyID), perms,
			strings.Join(ips, ","), ref.String(), ref.Fingerprint),
	}
}
