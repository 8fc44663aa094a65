package bybit

import (
	"context"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Trader implements exchange.TraderProvider: a plain client on one key, for
// scenarios that prove what a key (a bot's, or a leaked one) can still do.
func (a *Adapter) Trader(cred exchange.Credential, fromIP string) exchange.Trader {
	return &trader{a: a, cred: cred, from: fromIP}
}

type trader struct {
	a    *Adapter
	cred exchange.Credential
	from string
}

func (t *trader) PlaceOrder(ctx context.Context, symbol, side string, amount, price float64) (string, error) {
	ex, err := t.a.client(ctx, t.cred, t.from)
	if err != nil {
		return "", err
	}
	typ := "market"
	var opts []ccxt.CreateOrderOptions
	if price > 0 {
		typ = "limit"
		opts = append(opts, ccxt.WithCreateOrderPrice(price))
	}
	o, err := ccxtutil.Run(ctx, func() (ccxt.Order, error) { return ex.CreateOrder(symbol, typ, side, amount, opts...) })
	if err != nil {
		return "", t.a.classify("place_order", ex, err)
	}
	if o.Id == nil {
		return "", nil
	}
	return *o.Id, nil
}

// Withdraw uses ccxt's unified withdraw (/v5/asset/withdraw/create).
func (t *trader) Withdraw(ctx context.Context, asset string, amount float64, address string) (string, error) {
	ex, err := t.a.client(ctx, t.cred, t.from)
	if err != nil {
		return "", err
	}
	tx, err := ccxtutil.Run(ctx, func() (ccxt.Transaction, error) {
		return ex.Withdraw(asset, amount, address)
	})
	if err != nil {
		return "", t.a.classify("withdraw", ex, err)
	}
	if tx.Id == nil {
		return "", nil
	}
	return *tx.Id, nil
}
