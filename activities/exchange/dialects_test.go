package exchange_test

import (
	"testing"

	xchg "github.com/keyresponse/runbook/integrations/exchange"
	_ "github.com/keyresponse/runbook/integrations/exchange/binance" // registers "binance"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/binancesim"
)

// dialectCase is one exchange the scenario tests run against: the adapter
// (registered by its blank import) and the simulator dialect. Add OKX and
// Bybit here once their adapter and dialect exist.
type dialectCase struct {
	name    string
	dialect func() exchangesim.Dialect
	// subRef names the bot's sub-account the way the exchange's API does.
	subRef func(exchangesim.Account) string
	// createPath is the dialect path (prefix) of the create-key endpoint.
	createPath string
}

var dialectCases = []dialectCase{
	{
		name:       "binance",
		dialect:    func() exchangesim.Dialect { return binancesim.New() },
		subRef:     func(a exchangesim.Account) string { return a.Email },
		createPath: "/sapi/v2/sub-account/subAccountApi",
	},
}

func forEachDialect(t *testing.T, f func(t *testing.T, dc dialectCase)) {
	for _, dc := range dialectCases {
		t.Run(dc.name, func(t *testing.T) { f(t, dc) })
	}
}

// refused: an exchange may answer an IP outside the whitelist with an
// authentication error (Binance: -2015) or a permission error.
func refused(err error) bool {
	k := xchg.KindOf(err)
	return k == xchg.KindAuthentication || k == xchg.KindPermission
}
