package exchange

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyresponse/runbook/activities"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/runbooks"
)

// SelfRevokeParams are exchange.self_revoke's params.
type SelfRevokeParams struct {
	Exchange      string `json:"exchange"`
	CredentialRef string `json:"credential_ref"`
}

// Validate checks the params.
func (p *SelfRevokeParams) Validate() error {
	if p.Exchange == "" || p.CredentialRef == "" {
		return errors.New("exchange and credential_ref are required")
	}
	return nil
}

// SelfRevokeSpec declares exchange.self_revoke.
var SelfRevokeSpec = runbooks.ActionSpec{
	Name: "exchange.self_revoke",
	Description: "Emergency revoke: delete a key using the key itself, where the exchange allows it (Bybit). " +
		"For when only the leaked key is at hand. A key that is already dead is success. Fails with Unsupported " +
		"elsewhere (use the manual fallback).",
	Params: []runbooks.ParamSpec{exchangeParam,
		{Name: "credential_ref", Type: runbooks.ParamString, Required: true, Description: "secret reference of the key to delete"}},
	Outputs:    []string{"key_id", "revoked", "already_dead"},
	SideEffect: runbooks.Irreversible,
	Needs:      []string{"secrets.store"},
}

func selfRevoke(d Deps) activities.Action {
	return activities.Typed(SelfRevokeSpec, func(ctx context.Context, req runbooks.ActionRequest, p SelfRevokeParams) (runbooks.ActionResult, error) {
		ex, err := d.exchange(ctx, p.Exchange)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		if !ex.Capabilities().SelfRevoke {
			return runbooks.ActionResult{}, activities.NonRetryable(ErrUnsupported,
				fmt.Errorf("%s: a key cannot delete itself there; use the management credential or the web UI", p.Exchange))
		}
		cred, err := LoadCredential(ctx, d.Secrets, p.CredentialRef)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		err = ex.SelfRevoke(ctx, cred)
		// A retry after a lost answer finds the key already dead: the key
		// is rejected, which is exactly the goal. Only exchanges that tell
		// an IP refusal apart from a dead key (KindPermission) may declare
		// SelfRevoke, or a refused call would pass for a deletion.
		dead := xchg.KindOf(err) == xchg.KindAuthentication || xchg.IsNotFound(err)
		if err != nil && !dead {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		summary := fmt.Sprintf("key %s deleted itself on %s", short(cred.APIKey), p.Exchange)
		if dead {
			summary = fmt.Sprintf("key %s on %s was already dead", short(cred.APIKey), p.Exchange)
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{"key_id": cred.APIKey, "revoked": !dead, "already_dead": dead},
			Summary: summary,
		}, nil
	})
}
