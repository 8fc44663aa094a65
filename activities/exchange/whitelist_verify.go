package exchange

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyresponse/runbook/activities"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/runbooks"
)

// SetIPWhitelistParams are exchange.set_ip_whitelist's params.
type SetIPWhitelistParams struct {
	Exchange   string   `json:"exchange"`
	SubAccount string   `json:"sub_account"`
	KeyID      string   `json:"key_id"`
	IPs        []string `json:"ips"`
}

// Validate checks the params.
func (p *SetIPWhitelistParams) Validate() error {
	if p.Exchange == "" || p.SubAccount == "" || p.KeyID == "" {
		return errors.New("exchange, sub_account and key_id are required")
	}
	if len(xchg.NormalizeIPs(p.IPs)) == 0 {
		return errors.New("ips must not be empty (an empty whitelist allows any IP)")
	}
	return nil
}

// SetIPWhitelistSpec declares exchange.set_ip_whitelist.
var SetIPWhitelistSpec = runbooks.ActionSpec{
	Name: "exchange.set_ip_whitelist",
	Description: "Replace a key's IP whitelist with exactly the given IPs (a set, not an append; safe to repeat) in " +
		"as few exchange requests as the exchange allows: Binance and OKX write first (one request when nothing " +
		"else was listed), Bybit reads the key first (its update would otherwise make a read-only key read-write). " +
		"The result is verified from the exchange's answer to the write: a different list fails the step. " +
		"previous_known tells whether the old list was read; when not, previous_ip_whitelist holds only the " +
		"addresses seen removed. An empty list is refused: it would allow any IP.",
	Params: []runbooks.ParamSpec{exchangeParam, subAccountParam,
		{Name: "key_id", Type: runbooks.ParamString, Required: true},
		{Name: "ips", Type: runbooks.ParamList, Required: true}},
	Outputs: []string{"key_id", "ip_whitelist", "previous_ip_whitelist", "previous_known", "changed", "requests"},
	// Reversible in principle, but no automatic undo is declared: putting a
	// looser whitelist back is not something a failed incident should do.
	SideEffect: runbooks.Reversible,
	Needs:      []string{"exchange.management_credential"},
	Example:    "- id: pin\n  action: exchange.set_ip_whitelist\n  with: {exchange: binance, sub_account: bot-1@example.com, key_id: \"${{ steps.new-key.outputs.key_id }}\", ips: [\"203.0.113.10\"]}",
}

func setIPWhitelist(d Deps) activities.Action {
	return activities.Typed(SetIPWhitelistSpec, func(ctx context.Context, req runbooks.ActionRequest, p SetIPWhitelistParams) (runbooks.ActionResult, error) {
		ex, err := d.exchange(ctx, p.Exchange)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		// No read before the write here: the adapter knows the fewest
		// requests its exchange needs, and this is the lockout.
		ch, err := ex.SetIPWhitelist(ctx, p.SubAccount, p.KeyID, p.IPs)
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		return runbooks.ActionResult{Outputs: whitelistOutputs(p.KeyID, ch), Summary: whitelistSummary(p.KeyID, ch)}, nil
	})
}

func whitelistOutputs(keyID string, ch xchg.WhitelistChange) map[string]any {
	return map[string]any{"key_id": keyID, "ip_whitelist": nonNil(ch.Now), "previous_ip_whitelist": nonNil(ch.Previous),
		"previous_known": ch.PreviousKnown, "changed": ch.Changed, "requests": ch.Calls}
}

func whitelistSummary(keyID string, ch xchg.WhitelistChange) string {
	was := orAny(ch.Previous)
	switch {
	case !ch.PreviousKnown && len(ch.Previous) > 0:
		was = "removed " + strings.Join(ch.Previous, ",")
	case !ch.PreviousKnown:
		was = "previous list not read"
	}
	return fmt.Sprintf("whitelist of key %s is %s (was %s)", short(keyID), strings.Join(ch.Now, ","), was)
}

func orAny(ips []string) string {
	if len(ips) == 0 {
		return "any IP"
	}
	return strings.Join(ips, ",")
}

// VerifyKeyParams are exchange.verify_key's params.
type VerifyKeyParams struct {
	Exchange string `json:"exchange"`
	// The key that must work (the new one).
	CredentialRef string   `json:"credential_ref"`
	FromIP        string   `json:"from_ip"`
	ExpectIPs     []string `json:"expect_ips"`
	AllowWithdraw bool     `json:"allow_withdraw"`
	// An address the new key must be refused from (e.g. the attacker's).
	RefusedFromIP string `json:"refused_from_ip"`
	// The old key that must be dead: by its credential (strongest) and/or
	// by id (must no longer be listed on the sub-account).
	OldCredentialRef string `json:"old_credential_ref"`
	OldKeyID         string `json:"old_key_id"`
	SubAccount       string `json:"sub_account"`
}

// Validate checks the params.
func (p *VerifyKeyParams) Validate() error {
	if p.Exchange == "" {
		return errors.New("exchange is required")
	}
	if p.CredentialRef == "" && p.OldCredentialRef == "" && p.OldKeyID == "" {
		return errors.New("nothing to verify: give credential_ref and/or old_credential_ref / old_key_id")
	}
	if p.OldKeyID != "" && p.SubAccount == "" {
		return errors.New("old_key_id needs sub_account")
	}
	return nil
}

// VerifyKeySpec declares exchange.verify_key.
var VerifyKeySpec = runbooks.ActionSpec{
	Name: "exchange.verify_key",
	Description: "Check keys by calling the exchange with them: the new key authenticates from from_ip, cannot " +
		"withdraw and carries exactly expect_ips; it is refused from refused_from_ip; the old key is rejected " +
		"(old_credential_ref) and no longer listed (old_key_id). Read-only: the key reads its own restrictions, " +
		"no funds move. Fails with VerificationFailed (retried: deletions can take a moment to propagate).",
	Params: []runbooks.ParamSpec{exchangeParam,
		{Name: "credential_ref", Type: runbooks.ParamString, Description: "secret reference of the key that must work"},
		{Name: "from_ip", Type: runbooks.ParamString, Description: "local source address to call from (the bot's IP when the worker holds it)"},
		{Name: "expect_ips", Type: runbooks.ParamList},
		{Name: "allow_withdraw", Type: runbooks.ParamBool, Default: false},
		{Name: "refused_from_ip", Type: runbooks.ParamString},
		{Name: "old_credential_ref", Type: runbooks.ParamString, Description: "secret reference of the revoked key"},
		{Name: "old_key_id", Type: runbooks.ParamString},
		{Name: "sub_account", Type: runbooks.ParamString},
	},
	Outputs: []string{"ok", "new_key_authenticated", "new_key_can_withdraw", "new_key_ip_whitelist",
		"new_key_refused_from_ip", "old_key_rejected", "old_key_listed", "checks"},
	SideEffect: runbooks.ReadOnly,
	Needs:      []string{"secrets.store", "exchange.management_credential"},
}

func verifyKey(d Deps) activities.Action {
	return activities.Typed(VerifyKeySpec, func(ctx context.Context, req runbooks.ActionRequest, p VerifyKeyParams) (runbooks.ActionResult, error) {
		ex, err := d.exchange(ctx, p.Exchange)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		out := map[string]any{}
		var checks, problems []string
		check := func(ok bool, what string) {
			if ok {
				checks = append(checks, "ok: "+what)
			} else {
				checks = append(checks, "FAILED: "+what)
				problems = append(problems, what)
			}
		}
		if p.CredentialRef != "" {
			cred, err := LoadCredential(ctx, d.Secrets, p.CredentialRef)
			if err != nil {
				return runbooks.ActionResult{}, err
			}
			v, err := ex.VerifyKey(ctx, cred, p.FromIP)
			if err != nil {
				return runbooks.ActionResult{}, ActivityError(err)
			}
			out["new_key_authenticated"] = v.Authenticated
			out["new_key_can_withdraw"] = v.Permissions.Withdraw
			out["new_key_ip_whitelist"] = nonNil(v.IPWhitelist)
			check(v.Authenticated, "new key authenticates from "+orDefault(p.FromIP))
			if v.Authenticated {
				check(p.AllowWithdraw || !v.Permissions.Withdraw, "new key cannot withdraw")
				if len(p.ExpectIPs) > 0 {
					check(xchg.SameIPs(v.IPWhitelist, p.ExpectIPs), "new key whitelist is "+strings.Join(xchg.NormalizeIPs(p.ExpectIPs), ","))
				}
			}
			if p.RefusedFromIP != "" {
				rv, err := ex.VerifyKey(ctx, cred, p.RefusedFromIP)
				if err != nil {
					return runbooks.ActionResult{}, ActivityError(err)
				}
				out["new_key_refused_from_ip"] = !rv.Authenticated
				check(!rv.Authenticated, "new key refused from "+p.RefusedFromIP)
			}
		}
		if p.OldCredentialRef != "" {
			old, err := LoadCredential(ctx, d.Secrets, p.OldCredentialRef)
			if err != nil {
				return runbooks.ActionResult{}, err
			}
			v, err := ex.VerifyKey(ctx, old, p.FromIP)
			if err != nil {
				return runbooks.ActionResult{}, ActivityError(err)
			}
			rejected := !v.Authenticated && v.Rejection == xchg.KindAuthentication
			out["old_key_rejected"] = rejected
			check(rejected, "old key "+short(old.APIKey)+" is rejected with an authentication error")
		}
		if p.OldKeyID != "" {
			_, err := ex.KeyInfo(ctx, p.SubAccount, p.OldKeyID)
			listed := err == nil
			if err != nil && !xchg.IsNotFound(err) {
				return runbooks.ActionResult{}, ActivityError(err)
			}
			out["old_key_listed"] = listed
			check(!listed, "old key "+short(p.OldKeyID)+" is no longer listed")
		}
		out["checks"] = checks
		out["ok"] = len(problems) == 0
		if len(problems) > 0 {
			return runbooks.ActionResult{}, activities.Retryable(ErrVerificationFailed,
				fmt.Errorf("verification failed: %s", strings.Join(problems, "; ")))
		}
		return runbooks.ActionResult{Outputs: out, Summary: fmt.Sprintf("verified on %s: %d checks passed", p.Exchange, len(checks))}, nil
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orDefault(ip string) string {
	if ip == "" {
		return "the worker's address"
	}
	return ip
}
