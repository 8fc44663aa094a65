package bybit

import (
	"context"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Trader implements exchange.TraderProvider. Withdrawals use ccxt's unified
// withdraw (/v5/asset/withdraw/create).
func (a *Adapter) Trader(cred exchange.Credential, fromIP string) exchange.Trader {
	return &ccxtutil.Trader[*ccxt.Bybit]{
		Do: func(ctx context.Context, fn func(ex *ccxt.Bybit) error) error {
			return a.with(ctx, ccxtutil.ForTrader, cred, fromIP, fn)
		},
		Classify: a.classify,
	}
}
