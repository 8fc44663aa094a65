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

var exchangeParam = runbooks.ParamSpec{Name: "exchange", Type: runbooks.ParamString, Required: true,
	Description: "exchange account as configured on the worker (e.g. binance)"}

var subAccountParam = runbooks.ParamSpec{Name: "sub_account", Type: runbooks.ParamString, Required: true,
	Description: "sub-account the bot runs on, as the exchange names it (Binance email, OKX name, Bybit uid)"}

// CancelOrdersParams are exchange.cancel_orders's params.
type CancelOrdersParams struct {
	Exchange      string   `json:"exchange"`
	CredentialRef string   `json:"credential_ref"`
	Symbols       []string `json:"symbols"`
}

// Validate checks the params.
func (p *CancelOrdersParams) Validate() error {
	if p.Exchange == "" || p.CredentialRef == "" {
		return errors.New("exchange and credential_ref are required")
	}
	return nil
}

// CancelOrdersSpec declares exchange.cancel_orders.
var CancelOrdersSpec = runbooks.ActionSpec{
	Name: "exchange.cancel_orders",
	Description: "Cancel every open order of the bot's (sub-)account, using the bot's own key from the secret store. " +
		"Idempotent: with nothing left open it succeeds and cancels nothing.",
	Params: []runbooks.ParamSpec{
		exchangeParam,
		{Name: "credential_ref", Type: runbooks.ParamString, Required: true,
			Description: "secret reference of the bot's current key (name or name@version)"},
		{Name: "symbols", Type: runbooks.ParamList, Description: "only these unified symbols (BTC/USDT); default all"},
	},
	Outputs:    []string{"cancelled_count", "order_ids", "symbols"},
	SideEffect: runbooks.Irreversible, // a cancelled order cannot be restored
	Needs:      []string{"exchange.bot_credential", "secrets.store"},
	Example:    "- id: cancel\n  action: exchange.cancel_orders\n  with: {exchange: binance, credential_ref: \"binance/${{ inputs.bot }}/api-key\"}",
}

func cancelOrders(d Deps) activities.Action {
	return activities.Typed(CancelOrdersSpec, func(ctx context.Context, req runbooks.ActionRequest, p CancelOrdersParams) (runbooks.ActionResult, error) {
		ex, err := d.exchange(ctx, p.Exchange)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		cred, err := LoadCredential(ctx, d.Secrets, p.CredentialRef)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		res, err := ex.CancelAllOrders(ctx, cred, p.Symbols)
		if err != nil {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		ids := res.Cancelled
		if ids == nil {
			ids = []string{}
		}
		syms := res.Symbols
		if syms == nil {
			syms = []string{}
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{"cancelled_count": len(ids), "order_ids": ids, "symbols": syms},
			Summary: fmt.Sprintf("cancelled %d open orders on %s (%s)", len(ids), p.Exchange, strings.Join(syms, ", ")),
		}, nil
	})
}

// RevokeKeyParams are exchange.revoke_key's params.
type RevokeKeyParams struct {
	Exchange   string `json:"exchange"`
	SubAccount string `json:"sub_account"`
	KeyID      string `json:"key_id"`
}

// Validate checks the params.
func (p *RevokeKeyParams) Validate() error {
	if p.Exchange == "" || p.SubAccount == "" || p.KeyID == "" {
		return errors.New("exchange, sub_account and key_id are required")
	}
	return nil
}

// RevokeKeySpec declares exchange.revoke_key.
var RevokeKeySpec = runbooks.ActionSpec{
	Name: "exchange.revoke_key",
	Description: "Delete a sub-account API key with the management credential. A key that is already gone is success " +
		"(already_absent=true). Where the exchange has no key-management API the step fails with Unsupported: " +
		"use an approval gate for the manual deletion, then exchange.verify_key with old_credential_ref.",
	Params:     []runbooks.ParamSpec{exchangeParam, subAccountParam, {Name: "key_id", Type: runbooks.ParamString, Required: true}},
	Outputs:    []string{"key_id", "revoked", "already_absent"},
	SideEffect: runbooks.Irreversible,
	Needs:      []string{"exchange.management_credential"},
	Example:    "- id: revoke\n  action: exchange.revoke_key\n  with: {exchange: binance, sub_account: bot-1@example.com, key_id: \"${{ event.data.key_id }}\"}",
}

func revokeKey(d Deps) activities.Action {
	return activities.Typed(RevokeKeySpec, func(ctx context.Context, req runbooks.ActionRequest, p RevokeKeyParams) (runbooks.ActionResult, error) {
		ex, err := d.exchange(ctx, p.Exchange)
		if err != nil {
			return runbooks.ActionResult{}, err
		}
		if !ex.Capabilities().ManageSubAccountKeys {
			return runbooks.ActionResult{}, activities.NonRetryable(ErrUnsupported,
				fmt.Errorf("%s: no key-management API; delete key %s in the web UI and verify it is dead", p.Exchange, short(p.KeyID)))
		}
		err = ex.RevokeKey(ctx, p.SubAccount, p.KeyID)
		absent := xchg.IsNotFound(err)
		if err != nil && !absent {
			return runbooks.ActionResult{}, ActivityError(err)
		}
		summary := fmt.Sprintf("revoked key %s on %s", short(p.KeyID), p.Exchange)
		if absent {
			summary = fmt.Sprintf("key %s on %s was already gone", short(p.KeyID), p.Exchange)
		}
		return runbooks.ActionResult{
			Outputs: map[string]any{"key_id": p.KeyID, "revoked": !absent, "already_absent": absent},
			Summary: summary,
		}, nil
	})
}
