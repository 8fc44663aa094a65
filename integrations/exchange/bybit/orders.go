package bybit

import (
	"context"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// CancelAllOrders implements exchange.Exchange with ccxt's unified methods:
// fetch the open spot orders (/v5/order/realtime), cancel them with
// /v5/order/cancel-all (the whole spot category, or per symbol when symbols
// are given), and fetch again until nothing is left.
func (a *Adapter) CancelAllOrders(ctx context.Context, cred exchange.Credential, symbols []string) (exchange.CancelResult, error) {
	res := exchange.CancelResult{Cancelled: []string{}}
	err := a.with(ctx, ccxtutil.ForBot, cred, "", func(ex *ccxt.Bybit) error {
		var err error
		res, err = a.cancelAll(ctx, ex, symbols)
		return err
	})
	return res, err
}

func (a *Adapter) cancelAll(ctx context.Context, ex *ccxt.Bybit, symbols []string) (exchange.CancelResult, error) {
	fetch := func() ([]ccxt.Order, error) {
		open, err := ccxtutil.Run(ctx, func() ([]ccxt.Order, error) { return ex.FetchOpenOrders() })
		return open, a.classify("cancel_orders", ex, err)
	}
	return ccxtutil.CancelUntilNone(Name, symbols, fetch, func(syms []string, _ map[string][]ccxt.Order) ([]string, error) {
		var calls [][]ccxt.CancelAllOrdersOptions
		if len(symbols) == 0 {
			calls = append(calls, nil) // the whole spot category in one call
		} else {
			for _, s := range syms {
				calls = append(calls, []ccxt.CancelAllOrdersOptions{ccxt.WithCancelAllOrdersSymbol(s)})
			}
		}
		var cancelled []string
		for _, opts := range calls {
			done, err := ccxtutil.Run(ctx, func() ([]ccxt.Order, error) { return ex.CancelAllOrders(opts...) })
			if err != nil {
				return cancelled, a.classify("cancel_orders", ex, err)
			}
			cancelled = append(cancelled, ccxtutil.IDs(done)...)
		}
		return cancelled, nil
	})
}

// VerifyKey implements exchange.Exchange by having the key describe itself
// (GET /v5/user/query-api): it proves the key authenticates from fromIP and
// reports its permissions and bound IPs, without moving funds.
func (a *Adapter) VerifyKey(ctx context.Context, cred exchange.Credential, fromIP string) (exchange.Verification, error) {
	return ccxtutil.Verify(fromIP, func(fn func(ex *ccxt.Bybit) error) error { return a.with(ctx, ccxtutil.ForVerify, cred, fromIP, fn) },
		func(ex *ccxt.Bybit) (map[string]interface{}, error) {
			return a.call(ctx, ex, "verify_key", ex.PrivateGetV5UserQueryApi(map[string]interface{}{}))
		},
		func(v *exchange.Verification, _ *ccxt.Bybit, res map[string]interface{}) error {
			v.Permissions = permissionsOf(res)
			v.IPWhitelist = whitelist(res)
			return nil
		})
}

// SelfRevoke implements exchange.Exchange: the key deletes itself —
// delete-api for a main-account key, delete-sub-api without apikey for a
// sub-account key (query-api tells which). Bybit allows it only to a key
// holding a Wallet transfer permission; a trade-only key gets
// KindPermission and must be deleted with the management key or in the web
// UI. A key that is already gone gives KindNotFound (callers: success).
func (a *Adapter) SelfRevoke(ctx context.Context, cred exchange.Credential) error {
	err := a.with(ctx, ccxtutil.ForSelfRevoke, cred, "", func(ex *ccxt.Bybit) error {
		info, err := a.call(ctx, ex, "self_revoke", ex.PrivateGetV5UserQueryApi(map[string]interface{}{}))
		if err != nil {
			if exchange.KindOf(err) == exchange.KindAuthentication {
				return &exchange.Error{Kind: exchange.KindNotFound, Exchange: Name, Op: "self_revoke",
					Message: "the key no longer authenticates", Err: err}
			}
			return err
		}
		// ccxt starts a request when the endpoint method is called: call one.
		if ccxtutil.Bool(info, "isMaster") {
			_, err = a.call(ctx, ex, "self_revoke", ex.PrivatePostV5UserDeleteApi(map[string]interface{}{}))
		} else {
			_, err = a.call(ctx, ex, "self_revoke", ex.PrivatePostV5UserDeleteSubApi(map[string]interface{}{}))
		}
		return err
	})
	if err == nil || exchange.IsNotFound(err) {
		a.pool.Evict(cred.APIKey)
	}
	return err
}
