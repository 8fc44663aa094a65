package binance

import (
	"context"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Trader implements exchange.TraderProvider.
func (a *Adapter) Trader(cred exchange.Credential, fromIP string) exchange.Trader {
	return &ccxtutil.Trader[*ccxt.Binance]{
		Do: func(ctx context.Context, fn func(ex *ccxt.Binance) error) error {
			return a.with(ctx, ccxtutil.ForTrader, cred, fromIP, fn)
		},
		Classify:    a.classify,
		RawWithdraw: a.withdraw,
	}
}

// withdraw uses the raw endpoint: ccxt's unified withdraw needs the
// currencies catalogue, which the adapter does not load.
func (a *Adapter) withdraw(ctx context.Context, ex *ccxt.Binance, asset string, amount float64, address string) (string, error) {
	res, err := a.call(ctx, ex, "withdraw", "capital/withdraw/apply", "sapi", "POST", map[string]interface{}{
		"coin": asset, "amount": ccxtutil.FormatAmount(amount), "address": address,
	})
	if err != nil {
		return "", err
	}
	return ccxtutil.Str(ccxtutil.Map(res), "id"), nil
}
