package okx

import (
	"context"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// batchSize is OKX's limit for cancel-batch-orders.
const batchSize = 20

// CancelAllOrders implements exchange.Exchange with ccxt's unified methods:
// OKX has no cancel-all for spot, so it fetches the open orders
// (trade/orders-pending, at most 100 per call) and cancels them per symbol
// in batches of 20 (trade/cancel-batch-orders), until none is left. An
// order already gone (51400, e.g. a retry after a lost answer) counts as
// done.
func (a *Adapter) CancelAllOrders(ctx context.Context, cred exchange.Credential, symbols []string) (exchange.CancelResult, error) {
	res := exchange.CancelResult{Cancelled: []string{}}
	err := a.with(ctx, ccxtutil.ForBot, cred, "", func(ex *ccxt.Okx) error {
		var err error
		res, err = a.cancelAll(ctx, ex, symbols)
		return err
	})
	return res, err
}

func (a *Adapter) cancelAll(ctx context.Context, ex *ccxt.Okx, symbols []string) (exchange.CancelResult, error) {
	fetch := func() ([]ccxt.Order, error) {
		open, err := ccxtutil.Run(ctx, func() ([]ccxt.Order, error) { return ex.FetchOpenOrders() })
		return open, a.classify("cancel_orders", ex, err)
	}
	return ccxtutil.CancelUntilNone(Name, symbols, fetch, func(syms []string, bySymbol map[string][]ccxt.Order) ([]string, error) {
		var cancelled []string
		for _, s := range syms {
			ids := ccxtutil.IDs(bySymbol[s])
			for len(ids) > 0 {
				n := min(batchSize, len(ids))
				batch := ids[:n]
				ids = ids[n:]
				done, err := ccxtutil.Run(ctx, func() ([]ccxt.Order, error) {
					return ex.CancelOrders(batch, ccxt.WithCancelOrdersSymbol(s))
				})
				if err != nil {
					if err = a.classify("cancel_orders", ex, err); exchange.IsNotFound(err) {
						continue // all of them already gone
					}
					return cancelled, err
				}
				for _, o := range done {
					// OKX answers per order (sCode in the raw item, which
					// ccxt keeps under "info"); a partial failure is not an error.
					if o.Id != nil && ccxtutil.Str(ccxtutil.Map(o.Info["info"]), "sCode") == "0" {
						cancelled = append(cancelled, *o.Id)
					}
				}
			}
		}
		return cancelled, nil
	})
}

// VerifyKey implements exchange.Exchange by having the key read its own
// account configuration (GET /api/v5/account/config): it proves the key
// authenticates from fromIP and reports its rights (perm), whitelist (ip)
// and account mode, without moving funds. Derivatives count as allowed only
// when the key may trade and the account mode is not "Spot mode" (acctLv 1).
func (a *Adapter) VerifyKey(ctx context.Context, cred exchange.Credential, fromIP string) (exchange.Verification, error) {
	return ccxtutil.Verify(fromIP, func(fn func(ex *ccxt.Okx) error) error { return a.with(ctx, ccxtutil.ForVerify, cred, fromIP, fn) },
		func(ex *ccxt.Okx) (interface{}, error) {
			return a.call(ctx, ex, "verify_key", ex.PrivateGetAccountConfig(map[string]interface{}{}))
		},
		func(v *exchange.Verification, _ *ccxt.Okx, res interface{}) error {
			d := data(res)
			if len(d) == 0 {
				return &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "verify_key",
					Message: "account/config answered without data"}
			}
			v.Permissions = permissions(ccxtutil.Str(d[0], "perm"))
			if ccxtutil.Str(d[0], "acctLv") == "1" {
				v.Permissions.Futures = false
			}
			v.IPWhitelist = exchange.NormalizeIPs(ccxtutil.Strings(d[0], "ip"))
			return nil
		})
}

// SelfRevoke implements exchange.Exchange: an OKX key cannot delete itself.
func (a *Adapter) SelfRevoke(ctx context.Context, cred exchange.Credential) error {
	return &exchange.Error{Kind: exchange.KindUnsupported, Exchange: Name, Op: "self_revoke",
		Message: "OKX has no API for a key to delete itself; delete it with the main account's key or in the web UI"}
}
