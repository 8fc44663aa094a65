package ccxtutil

import (
	"sort"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
)

// cancelRounds bounds CancelUntilNone: one cancel call may leave orders
// behind (OKX lists at most 100 pending orders per call), so the loop
// fetches and cancels again, but not forever.
const cancelRounds = 5

// CancelUntilNone is the fetch-cancel-check loop of CancelAllOrders for
// exchanges whose cancel call may leave orders open. fetch lists the open
// orders; cancel gets, each round, the symbols with open orders (sorted,
// only those in symbols when it is not empty) and those orders by symbol,
// and returns the ids it cancelled (also alongside an error). The loop ends
// when nothing wanted is open. name is the exchange's, for the error.
func CancelUntilNone(name string, symbols []string, fetch func() ([]ccxt.Order, error),
	cancel func(syms []string, bySymbol map[string][]ccxt.Order) ([]string, error)) (exchange.CancelResult, error) {
	res := exchange.CancelResult{Cancelled: []string{}}
	only := map[string]bool{}
	for _, s := range symbols {
		only[s] = true
	}
	seen := map[string]bool{}
	for round := 0; round < cancelRounds; round++ {
		open, err := fetch()
		if err != nil {
			return res, err
		}
		bySymbol := map[string][]ccxt.Order{}
		for _, o := range open {
			// An order without an id can be neither cancelled nor reported.
			if o.Symbol == nil || o.Id == nil || (len(only) > 0 && !only[*o.Symbol]) {
				continue
			}
			bySymbol[*o.Symbol] = append(bySymbol[*o.Symbol], o)
		}
		if len(bySymbol) == 0 {
			sort.Strings(res.Symbols)
			return res, nil
		}
		syms := make([]string, 0, len(bySymbol))
		for s := range bySymbol {
			syms = append(syms, s)
			if !seen[s] {
				seen[s] = true
				res.Symbols = append(res.Symbols, s)
			}
		}
		sort.Strings(syms)
		done, err := cancel(syms, bySymbol)
		res.Cancelled = append(res.Cancelled, done...)
		if err != nil {
			return res, err
		}
	}
	return res, &exchange.Error{Kind: exchange.KindExchange, Exchange: name, Op: "cancel_orders",
		Message: "orders still open after repeated cancellation"}
}

// IDs returns the ids of orders (those that have one).
func IDs(orders []ccxt.Order) []string {
	var ids []string
	for _, o := range orders {
		if o.Id != nil {
			ids = append(ids, *o.Id)
		}
	}
	return ids
}
