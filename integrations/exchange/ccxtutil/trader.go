package ccxtutil

import (
	"context"

	ccxt "github.com/ccxt/ccxt/go/v4"
)

// TradingClient is the part of a typed ccxt client (*ccxt.Okx, *ccxt.Bybit,
// *ccxt.Binance) a Trader uses: the unified order and withdraw calls.
type TradingClient interface {
	CreateOrder(symbol, typ, side string, amount float64, opts ...ccxt.CreateOrderOptions) (ccxt.Order, error)
	Withdraw(code string, amount float64, address string, opts ...ccxt.WithdrawOptions) (ccxt.Transaction, error)
}

// Trader is the exchange.Trader every ccxt adapter hands out: a plain client
// on one key, for scenarios that prove what a key (a bot's, or a leaked one)
// can still do. The adapter supplies how to build its client and classify
// its errors; the order logic is the same on every exchange.
type Trader[E TradingClient] struct {
	// Do runs fn with a client on the trader's key and source address
	// (leased from the adapter's pool).
	Do func(ctx context.Context, fn func(ex E) error) error
	// Classify turns a ccxt error into *exchange.Error (ex may be nil).
	Classify func(op string, ex E, err error) error
	// WithdrawParams are passed to ccxt's unified withdraw.
	WithdrawParams map[string]interface{}
	// RawWithdraw, when set, replaces the unified withdraw (for exchanges
	// where ccxt's unified call needs catalogues the adapter does not load).
	RawWithdraw func(ctx context.Context, ex E, asset string, amount float64, address string) (string, error)
}

// PlaceOrder places a limit order at price, or a market order when price is 0.
func (t *Trader[E]) PlaceOrder(ctx context.Context, symbol, side string, amount, price float64) (string, error) {
	var id string
	err := t.Do(ctx, func(ex E) error {
		var err error
		id, err = t.placeOrder(ctx, ex, symbol, side, amount, price)
		return err
	})
	return id, err
}

func (t *Trader[E]) placeOrder(ctx context.Context, ex E, symbol, side string, amount, price float64) (string, error) {
	typ := "market"
	var opts []ccxt.CreateOrderOptions
	if price > 0 {
		typ = "limit"
		opts = append(opts, ccxt.WithCreateOrderPrice(price))
	}
	o, err := Run(ctx, func() (ccxt.Order, error) { return ex.CreateOrder(symbol, typ, side, amount, opts...) })
	if err != nil {
		return "", t.Classify("place_order", ex, err)
	}
	if o.Id == nil {
		return "", nil
	}
	return *o.Id, nil
}

// Withdraw asks for a withdrawal and returns the exchange's id for it.
func (t *Trader[E]) Withdraw(ctx context.Context, asset string, amount float64, address string) (string, error) {
	var id string
	err := t.Do(ctx, func(ex E) error {
		var err error
		id, err = t.withdraw(ctx, ex, asset, amount, address)
		return err
	})
	return id, err
}

func (t *Trader[E]) withdraw(ctx context.Context, ex E, asset string, amount float64, address string) (string, error) {
	if t.RawWithdraw != nil {
		return t.RawWithdraw(ctx, ex, asset, amount, address)
	}
	var opts []ccxt.WithdrawOptions
	if t.WithdrawParams != nil {
		opts = append(opts, ccxt.WithWithdrawParams(t.WithdrawParams))
	}
	tx, err := Run(ctx, func() (ccxt.Transaction, error) { return ex.Withdraw(asset, amount, address, opts...) })
	if err != nil {
		return "", t.Classify("withdraw", ex, err)
	}
	if tx.Id == nil {
		return "", nil
	}
	return *tx.Id, nil
}
