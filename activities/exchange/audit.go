package exchange

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyresponse/runbook/activities"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/runbooks"
)

// AuditKeysParams are exchange.audit_keys's params.
type AuditKeysParams struct {
	Exchange    string            `json:"exchange"`
	SubAccount  string            `json:"sub_account"`
	MaxAge      runbooks.Duration `json:"max_age"`
	UnusedFor   runbooks.Duration `json:"unused_for"`
	ExpectedIPs []string          `json:"expected_ips"`
}

// Validate checks the params.
func (p *AuditKeysParams) Validate() error {
	if p.Exchange == "" || p.SubAccount == "" {
		return errors.New("exchange and sub_account are required")
	}
	return nil
}

// Findings audit_keys reports per key.
const (
	FindingWithdraw    = "withdraw_enabled"
	FindingNoWhitelist = "no_ip_whitelist"
	FindingUnknownIPs  = "unexpected_ips"
	FindingTooOld      = "too_old"
	FindingUnused      = "unused"
	FindingFutures     = "futures_enabled"
)

// AuditKeysSpec declares exchange.audit_keys.
var AuditKeysSpec = runbooks.ActionSpec{
	Name: "exchange.audit_keys",
	Description: "List a sub-account's keys and flag withdrawal rights, futures rights, a missing whitelist, " +
		"IPs outside expected_ips, keys older than max_age and keys unused for unused_for (where the exchange " +
		"reports last use).",
	Params: []runbooks.ParamSpec{exchangeParam, subAccountParam,
		{Name: "max_age", Type: runbooks.ParamDuration, Default: "90d"},
		{Name: "unused_for", Type: runbooks.ParamDuration, Default: "30d"},
		{Name: "expected_ips", Type: runbooks.ParamList},
	},
	Outputs:    []string{"keys", "key_count", "flagged_count", "flagged"},
	SideEffect: runbooks.ReadOnly,
	Needs:      []string{"exchange.management_credential"},
}

func auditKeys(d Deps) activities.Action {
	return activities.Typed(AuditKeysSpec, func(ctx context.Context, req runbooks.ActionRequest, p AuditKeysParams) (runbooks.ActionResult, error) {
		ex, err := d.exchange(ctx, p.Exchange)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		keys, err := ex.ListKeys(ctx, p.SubAccount)
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		now := d.now()
		expected := map[string]bool{}
		for _, ip := range xchg.NormalizeIPs(p.ExpectedIPs) {
			expected[ip] = true
		}
		var rows []map[string]any
		flagged := []string{}
		for _, k := range keys {
			f := Findings(k, now, p.MaxAge.D(), p.UnusedFor.D(), expected)
			row := map[string]any{
				"id": k.ID, "label": k.Label, "permissions": k.Permissions.String(),
				"ip_whitelist": nonNil(k.IPWhitelist), "findings": f,
			}
			if !k.CreatedAt.IsZero() {
				row["created_at"] = k.CreatedAt.UTC().Format(time.RFC3339)
			}
			if !k.LastUsedAt.IsZero() {
				row["last_used_at"] = k.LastUsedAt.UTC().Format(time.RFC3339)
			}
			rows = append(rows, row)
			if len(f) > 0 {
				flagged = append(flagged, k.ID)
			}
		}
		if rows == nil {
			rows = []map[string]any{}
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{"keys": rows, "key_count": len(rows), "flagged_count": len(flagged), "flagged": flagged},
			Summary: fmt.Sprintf("%d keys on %s %s, %d flagged", len(rows), p.Exchange, p.SubAccount, len(flagged)),
		}, nil
	})
}

// Findings lists what is wrong with one key.
func Findings(k xchg.Key, now time.Time, maxAge, unusedFor time.Duration, expected map[string]bool) []string {
	f := []string{}
	if k.Permissions.Withdraw {
		f = append(f, FindingWithdraw)
	}
	if k.Permissions.Futures {
		f = append(f, FindingFutures)
	}
	if len(k.IPWhitelist) == 0 {
		f = append(f, FindingNoWhitelist)
	} else if len(expected) > 0 {
		for _, ip := range k.IPWhitelist {
			if !expected[ip] {
				f = append(f, FindingUnknownIPs)
				break
			}
		}
	}
	if maxAge > 0 && !k.CreatedAt.IsZero() && now.Sub(k.CreatedAt) > maxAge {
		f = append(f, FindingTooOld)
	}
	if unusedFor > 0 && !k.LastUsedAt.IsZero() && now.Sub(k.LastUsedAt) > unusedFor {
		f = append(f, FindingUnused)
	}
	return f
}
