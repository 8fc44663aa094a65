package okx

import (
	"context"
	"sort"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// cancelRounds bounds CancelAllOrders: OKX lists at most 100 pending orders
// per call, so it fetches and cancels until nothing is left.
const cancelRounds = 5

// batchSize is OKX's limit for cancel-batch-orders.
const batchSize = 20

// CancelAllOrders implements exchange.Exchange with ccxt's unified methods:
// OKX has no cancel-all for spot, so it fetches the open orders
// (trade/orders-pending) and cancels them per symbol in batches of 20
// (trade/cancel-batch-orders), until none is left. An order already gone
// (51400, e.g. a retry after a lost answer) counts as done.
func (a *Adapter) CancelAllOrders(ctx context.Context, cred exchange.Credential, symbols []string) (exchange.CancelResult, error) {
	res := exchange.CancelResult{Cancelled: []string{}}
	ex, err := a.client(ctx, cred, "")
	if err != nil {
		return res, err
	}
	only := map[string]bool{}
	for _, s := range symbols {
		only[s] = true
	}
	seenSymbol := map[string]bool{}
	for round := 0; round < cancelRounds; round++ {
		open, err := ccxtutil.Run(ctx, func() ([]ccxt.Order, error) { return ex.FetchOpenOrders() })
		if err != nil {
			return res, a.classify("cancel_orders", ex, err)
		}
		bySymbol := map[string][]string{}
		for _, o := range open {
			if o.Symbol == nil || o.Id == nil || (len(only) > 0 && !only[*o.Symbol]) {
				continue
			}
			bySymbol[*o.Symbol] = append(bySymbol[*o.Symbol], *o.Id)
		}
		if len(bySymbol) == 0 {
			sort.Strings(res.Symbols)
			return res, nil
		}
		var syms []string
		for s := range bySymbol {
			syms = append(syms, s)
			if !seenSymbol[s] {
				seenSymbol[s] = true
				res.Symbols = append(res.Symbols, s)
			}
		}
		sort.Strings(syms)
		for _, s := range syms {
			ids := bySymbol[s]
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
					return res, err
				}
				for _, o := range done {
					// OKX answers per order (sCode in the raw item, which
					// ccxt keeps under "info"); a partial failure is not an error.
					if o.Id != nil && ccxtutil.Str(ccxtutil.Map(o.Info["info"]), "sCode") == "0" {
						res.Cancelled = append(res.Cancelled, *o.Id)
					}
				}
			}
		}
	}
	return res, &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "cancel_orders",
		Message: "orders still open after repeated cancellation"}
}

// VerifyKey implements exchange.Exchange by having the key read its own
// account configuration (GET /api/v5/account/config): it proves the key
// authenticates from fromIP and reports its rights (perm), whitelist (ip)
// and account mode, without moving funds. Derivatives count as allowed only
// when the key may trade and the account mode is not "Spot mode" (acctLv 1).
func (a *Adapter) VerifyKey(ctx context.Context, cred exchange.Credential, fromIP string) (exchange.Verification, error) {
	v := exchange.Verification{FromIP: fromIP}
	ex, err := a.client(ctx, cred, fromIP)
	if err != nil {
		return v, err
	}
	res, err := a.call(ctx, ex, "verify_key", ex.PrivateGetAccountConfig(map[string]interface{}{}))
	if err != nil {
		switch k := exchange.KindOf(err); k {
		case exchange.KindAuthentication, exchange.KindPermission:
			v.Rejection = k
			if e, ok := err.(*exchange.Error); ok {
				v.Message = e.Message
			}
			return v, nil
		}
		return v, err
	}
	d := data(res)
	if len(d) == 0 {
		return v, &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "verify_key",
			Message: "account/config answered without data"}
	}
	v.Authenticated = true
	v.Permissions = permissions(ccxtutil.Str(d[0], "perm"))
	if ccxtutil.Str(d[0], "acctLv") == "1" {
		v.Permissions.Futures = false
	}
	v.IPWhitelist = exchange.NormalizeIPs(ccxtutil.Strings(d[0], "ip"))
	return v, nil
}

// SelfRevoke implements exchange.Exchange: an OKX key cannot delete itself.
func (a *Adapter) SelfRevoke(ctx context.Context, cred exchange.Credential) error {
	return &exchange.Error{Kind: exchange.KindUnsupported, Exchange: Name, Op: "self_revoke",
		Message: "OKX has no API for a key to delete itself; delete it with the main account's key or in the web UI"}
}
