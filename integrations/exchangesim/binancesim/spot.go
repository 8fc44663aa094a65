package binancesim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// exchangeInfo serves what ccxt's fetchMarkets needs for spot markets.
func (sv *server) exchangeInfo(w http.ResponseWriter, r *http.Request) {
	exchangesim.CallOf(r).Op = "markets"
	var symbols []map[string]any
	for _, m := range sv.sim.Markets() {
		symbols = append(symbols, map[string]any{
			"symbol":                         m.ID(),
			"status":                         "TRADING",
			"baseAsset":                      m.Base,
			"baseAssetPrecision":             8,
			"quoteAsset":                     m.Quote,
			"quotePrecision":                 8,
			"quoteAssetPrecision":            8,
			"orderTypes":                     []string{"LIMIT", "MARKET"},
			"icebergAllowed":                 false,
			"ocoAllowed":                     false,
			"isSpotTradingAllowed":           true,
			"isMarginTradingAllowed":         false,
			"permissions":                    []string{},
			"permissionSets":                 [][]string{{"SPOT"}},
			"defaultSelfTradePreventionMode": "NONE",
			"filters": []map[string]any{
				{"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
				{"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
				{"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5},
			},
		})
	}
	exchangesim.WriteJSON(w, 200, map[string]any{
		"timezone":        "UTC",
		"serverTime":      sv.sim.Now().UnixMilli(),
		"rateLimits":      []any{},
		"exchangeFilters": []any{},
		"symbols":         symbols,
	})
}

func (sv *server) account(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	var bals []map[string]string
	for asset, v := range sv.sim.Balances(sr.key.Account) {
		bals = append(bals, map[string]string{"asset": asset, "free": fmtNum(v), "locked": "0.00000000"})
	}
	exchangesim.WriteJSON(w, 200, map[string]any{
		"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
		"canTrade": sr.key.Perms.Trade, "canWithdraw": sr.key.Perms.Withdraw, "canDeposit": true,
		"updateTime": sv.sim.Now().UnixMilli(), "accountType": "SPOT", "balances": bals, "permissions": []string{"SPOT"},
	})
}

func orderJSON(o exchangesim.Order) map[string]any {
	status := map[string]string{"open": "NEW", "canceled": "CANCELED", "filled": "FILLED"}[o.Status]
	executed := "0.00000000"
	if o.Status == "filled" {
		executed = fmtNum(o.Amount)
	}
	return map[string]any{
		"symbol": o.Symbol, "orderId": mustAtoi(o.ID), "orderListId": -1, "clientOrderId": o.ClientOrderID,
		"price": fmtNum(o.Price), "origQty": fmtNum(o.Amount), "executedQty": executed,
		"cummulativeQuoteQty": "0.00000000", "status": status, "timeInForce": "GTC",
		"type": strings.ToUpper(o.Type), "side": strings.ToUpper(o.Side),
		"time": o.CreatedAt.UnixMilli(), "updateTime": o.CreatedAt.UnixMilli(),
		"transactTime": o.CreatedAt.UnixMilli(), "isWorking": true, "fills": []any{},
	}
}

func mustAtoi(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func (sv *server) openOrders(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	out := []map[string]any{}
	for _, o := range sv.sim.OpenOrders(sr.key.Account, sr.params.Get("symbol")) {
		out = append(out, orderJSON(o))
	}
	exchangesim.WriteJSON(w, 200, out)
}

func (sv *server) cancelAll(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	if !sr.key.Perms.Trade {
		apiError(w, r, 401, CodeUnauthorized, "You are not authorized to execute this request.")
		return
	}
	sym := sr.params.Get("symbol")
	if sym == "" {
		apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
		return
	}
	cancelled := sv.sim.CancelOrders(sr.key.Account, sym)
	if len(cancelled) == 0 {
		// Binance: cancelling with nothing open is an "unknown order".
		apiError(w, r, 400, CodeUnknownOrder, "Unknown order sent.")
		return
	}
	out := []map[string]any{}
	for _, o := range cancelled {
		out = append(out, orderJSON(o))
	}
	exchangesim.CallOf(r).Result = "cancelled " + strconv.Itoa(len(out)) + " orders on " + sym
	exchangesim.WriteJSON(w, 200, out)
}

func (sv *server) cancelOrder(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	if !sr.key.Perms.Trade {
		apiError(w, r, 401, CodeUnauthorized, "You are not authorized to execute this request.")
		return
	}
	o, err := sv.sim.CancelOrder(sr.key.Account, sr.params.Get("orderId"))
	if err != nil {
		apiError(w, r, 400, CodeUnknownOrder, "Unknown order sent.")
		return
	}
	exchangesim.WriteJSON(w, 200, orderJSON(o))
}

func (sv *server) placeOrder(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	if !sr.key.Perms.Trade {
		apiError(w, r, 401, CodeUnauthorized, "You are not authorized to execute this request.")
		return
	}
	p := sr.params
	m, ok := sv.sim.MarketByID(p.Get("symbol"))
	if !ok {
		apiError(w, r, 400, -1121, "Invalid symbol.")
		return
	}
	qty, _ := strconv.ParseFloat(p.Get("quantity"), 64)
	price, _ := strconv.ParseFloat(p.Get("price"), 64)
	typ := strings.ToLower(p.Get("type"))
	if typ == "market" {
		price = m.Price
	}
	if qty <= 0 || (typ == "limit" && price <= 0) {
		apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
		return
	}
	o, err := sv.sim.PlaceOrder(exchangesim.Order{Account: sr.key.Account, KeyID: sr.key.ID, Symbol: m.ID(),
		Side: strings.ToLower(p.Get("side")), Type: typ, Price: price, Amount: qty, ClientOrderID: p.Get("newClientOrderId")})
	if err != nil {
		apiError(w, r, 400, CodeBalance, "Account has insufficient balance for requested action.")
		return
	}
	exchangesim.CallOf(r).Result = "order " + o.ID
	exchangesim.WriteJSON(w, 200, orderJSON(o))
}

func (sv *server) withdraw(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	if !sr.key.Perms.Withdraw {
		apiError(w, r, 401, CodeUnauthorized, "You are not authorized to execute this request.")
		return
	}
	p := sr.params
	amount, _ := strconv.ParseFloat(p.Get("amount"), 64)
	if p.Get("coin") == "" || p.Get("address") == "" || amount <= 0 {
		apiError(w, r, 400, CodeMandatory, "Mandatory parameter was not sent, was empty/null, or malformed.")
		return
	}
	wd, err := sv.sim.Withdraw(exchangesim.Withdrawal{Account: sr.key.Account, KeyID: sr.key.ID,
		Asset: p.Get("coin"), Amount: amount, Address: p.Get("address")})
	if errors.Is(err, exchangesim.ErrFunds) {
		apiError(w, r, 400, -4026, "User has insufficient balance")
		return
	}
	exchangesim.CallOf(r).Result = "withdrawal " + wd.ID
	exchangesim.WriteJSON(w, 200, map[string]string{"id": wd.ID})
}

// apiRestrictions is a key reading its own rights: the non-destructive way
// to prove a key cannot withdraw.
func (sv *server) apiRestrictions(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	k := sr.key
	exchangesim.WriteJSON(w, 200, map[string]any{
		"ipRestrict":                   len(k.IPs) > 0,
		"createTime":                   k.CreatedAt.UnixMilli(),
		"enableReading":                true,
		"enableSpotAndMarginTrading":   k.Perms.Trade,
		"enableWithdrawals":            k.Perms.Withdraw,
		"enableInternalTransfer":       k.Perms.Withdraw,
		"permitsUniversalTransfer":     k.Perms.Withdraw,
		"enableFutures":                k.Perms.Futures,
		"enableMargin":                 false,
		"enableVanillaOptions":         false,
		"enablePortfolioMarginTrading": false,
	})
}

// ownIPRestriction is a key reading its own whitelist.
func (sv *server) ownIPRestriction(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	exchangesim.WriteJSON(w, 200, ipRestrictionJSON(sr.key, sv.sim.Now().UnixMilli()))
}
