package okx

import (
	"context"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Trader implements exchange.TraderProvider. Withdrawals use ccxt's unified
// withdraw with fee "0" (OKX-internal destinations are fee-free), which
// spares ccxt a currencies download.
func (a *Adapter) Trader(cred exchange.Credential, fromIP string) exchange.Trader {
	return &ccxtutil.Trader[*ccxt.Okx]{
		Do: func(ctx context.Context, fn func(ex *ccxt.Okx) error) error {
			return a.with(ctx, ccxtutil.ForTrader, cred, fromIP, fn)
		},
		Classify:       a.classify,
		WithdrawParams: map[string]interface{}{"fee": "0"},
	}
}
