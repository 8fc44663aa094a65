package binance

import (
	"context"
	"sort"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// CancelAllOrders implements exchange.Exchange with ccxt's unified methods:
// fetch the open orders (all symbols), then cancel all per symbol (Binance
// requires a symbol). A symbol with nothing left to cancel ("Unknown order",
// e.g. a retry after a lost answer) counts as done.
func (a *Adapter) CancelAllOrders(ctx context.Context, cred exchange.Credential, symbols []string) (exchange.CancelResult, error) {
	res := exchange.CancelResult{Cancelled: []string{}}
	err := a.with(ctx, ccxtutil.ForBot, cred, "", func(ex *ccxt.Binance) error {
		res = exchange.CancelResult{Cancelled: []string{}}
		return a.cancelAll(ctx, ex, symbols, &res)
	})
	return res, err
}

func (a *Adapter) cancelAll(ctx context.Context, ex *ccxt.Binance, symbols []string, res *exchange.CancelResult) error {
	open, err := ccxtutil.Run(ctx, func() ([]ccxt.Order, error) { return ex.FetchOpenOrders() })
	if err != nil {
		return a.classify("cancel_orders", ex, err)
	}
	only := set(symbols)
	bySymbol := map[string]bool{}
	for _, o := range open {
		if o.Symbol == nil || (len(only) > 0 && !only[*o.Symbol]) {
			continue
		}
		bySymbol[*o.Symbol] = true
	}
	for s := range bySymbol {
		res.Symbols = append(res.Symbols, s)
	}
	sort.Strings(res.Symbols)
	for _, s := range res.Symbols {
		cancelled, err := ccxtutil.Run(ctx, func() ([]ccxt.Order, error) {
			return ex.CancelAllOrders(ccxt.WithCancelAllOrdersSymbol(s))
		})
		if err != nil {
			err = a.classify("cancel_orders", ex, err)
			if exchange.IsNotFound(err) {
				continue
			}
			return err
		}
		for _, o := range cancelled {
			if o.Id != nil {
				res.Cancelled = append(res.Cancelled, *o.Id)
			}
		}
	}
	return nil
}

// VerifyKey implements exchange.Exchange by having the key read its own
// restrictions (GET /sapi/v1/account/apiRestrictions and …/ipRestriction):
// it proves the key authenticates from fromIP and reports whether it can
// withdraw, without moving any funds.
func (a *Adapter) VerifyKey(ctx context.Context, cred exchange.Credential, fromIP string) (exchange.Verification, error) {
	return ccxtutil.Verify(fromIP, func(fn func(ex *ccxt.Binance) error) error { return a.with(ctx, ccxtutil.ForVerify, cred, fromIP, fn) },
		func(ex *ccxt.Binance) (interface{}, error) {
			return a.call(ctx, ex, "verify_key", "account/apiRestrictions", "sapi", "GET", map[string]interface{}{})
		},
		func(v *exchange.Verification, ex *ccxt.Binance, res interface{}) error {
			m := ccxtutil.Map(res)
			v.Permissions = exchange.Permissions{
				Read:     ccxtutil.Bool(m, "enableReading"),
				Trade:    ccxtutil.Bool(m, "enableSpotAndMarginTrading"),
				Futures:  ccxtutil.Bool(m, "enableFutures"),
				Withdraw: ccxtutil.Bool(m, "enableWithdrawals") || ccxtutil.Bool(m, "permitsUniversalTransfer"),
			}
			if !ccxtutil.Bool(m, "ipRestrict") {
				return nil
			}
			ipres, err := a.call(ctx, ex, "verify_key", "account/apiRestrictions/ipRestriction", "sapi", "GET", map[string]interface{}{})
			if err != nil {
				return err
			}
			v.IPWhitelist = exchange.NormalizeIPs(ccxtutil.Strings(ccxtutil.Map(ipres), "ipList"))
			return nil
		})
}

// SelfRevoke implements exchange.Exchange: Binance keys cannot delete
// themselves.
func (a *Adapter) SelfRevoke(ctx context.Context, cred exchange.Credential) error {
	return &exchange.Error{Kind: exchange.KindUnsupported, Exchange: Name, Op: "self_revoke",
		Message: "Binance has no API to delete a key with itself; delete it in the web UI (API Management)"}
}
