package bybitsim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// instruments serves GET /v5/market/instruments-info?category=spot, what
// ccxt's fetchMarkets calls with the adapter's spot-only options.
func (sv *server) instruments(w http.ResponseWriter, r *http.Request) {
	exchangesim.CallOf(r).Op = "markets"
	cat := r.URL.Query().Get("category")
	if cat == "" {
		sv.apiError(w, r, CodeParam, "Request parameter error. category is required")
		return
	}
	list := []map[string]any{}
	if cat == "spot" {
		for _, m := range sv.sim.Markets() {
			list = append(list, map[string]any{
				"symbol": m.ID(), "baseCoin": m.Base, "quoteCoin": m.Quote, "innovation": "0", "status": "Trading",
				"marginTrading": "none", "stTag": "0",
				"lotSizeFilter": map[string]any{"basePrecision": "0.000001", "quotePrecision": "0.00000001",
					"minOrderQty": "0.000048", "maxOrderQty": "71.73956243", "minOrderAmt": "1", "maxOrderAmt": "2000000"},
				"priceFilter":    map[string]any{"tickSize": "0.01"},
				"riskParameters": map[string]any{"limitParameter": "0.03", "marketParameter": "0.03"},
			})
		}
	}
	sv.ok(w, map[string]any{"category": cat, "list": list})
}

func (sv *server) walletBalance(w http.ResponseWriter, r *http.Request, rq request) {
	coins := []map[string]any{}
	for asset, v := range sv.sim.Balances(rq.key.Account) {
		coins = append(coins, map[string]any{"coin": asset, "equity": num(v), "walletBalance": num(v),
			"availableToWithdraw": num(v), "locked": "0", "totalOrderIM": "0", "totalPositionIM": "0",
			"borrowAmount": "0", "accruedInterest": "0", "usdValue": "", "unrealisedPnl": "0"})
	}
	sv.ok(w, map[string]any{"list": []map[string]any{{"accountType": "UNIFIED", "totalEquity": "",
		"totalWalletBalance": "", "accountIMRate": "0", "accountMMRate": "0", "coin": coins}}})
}

func (sv *server) orderJSON(o exchangesim.Order) map[string]any {
	status := map[string]string{"open": "New", "canceled": "Cancelled", "filled": "Filled"}[o.Status]
	leaves, filled := num(o.Amount), "0"
	if o.Status != "open" {
		leaves = "0"
	}
	if o.Status == "filled" {
		filled = num(o.Amount)
	}
	side := "Buy"
	if o.Side == "sell" {
		side = "Sell"
	}
	typ := "Limit"
	if o.Type == "market" {
		typ = "Market"
	}
	return map[string]any{
		"orderId": o.ID, "orderLinkId": o.ClientOrderID, "blockTradeId": "", "symbol": o.Symbol,
		"price": num(o.Price), "qty": num(o.Amount), "side": side, "isLeverage": "0", "positionIdx": 0,
		"orderStatus": status, "cancelType": "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": "",
		"leavesQty": leaves, "leavesValue": "0", "cumExecQty": filled, "cumExecValue": "0", "cumExecFee": "0",
		"timeInForce": "GTC", "orderType": typ, "stopOrderType": "", "triggerPrice": "", "takeProfit": "",
		"stopLoss": "", "reduceOnly": false, "closeOnTrigger": false, "smpType": "None",
		"createdTime": msStr(o.CreatedAt), "updatedTime": msStr(o.CreatedAt),
	}
}

// canTrade checks the right a category needs.
func (sv *server) canTrade(w http.ResponseWriter, r *http.Request, rq request) bool {
	k := rq.key.Perms
	cat := str(rq.params, "category")
	allowed := k.Trade
	if cat == "linear" || cat == "inverse" || cat == "option" {
		allowed = k.Futures
	}
	if !allowed {
		sv.apiError(w, r, CodeNoPermission, "Permission denied, please check your API key permissions.")
	}
	return allowed
}

func (sv *server) openOrders(w http.ResponseWriter, r *http.Request, rq request) {
	cat := str(rq.params, "category")
	list := []map[string]any{}
	if cat == "spot" {
		for _, o := range sv.sim.OpenOrders(rq.key.Account, str(rq.params, "symbol")) {
			list = append(list, sv.orderJSON(o))
		}
	}
	sv.ok(w, map[string]any{"category": cat, "nextPageCursor": "", "list": list})
}

func (sv *server) createOrder(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.canTrade(w, r, rq) {
		return
	}
	p := rq.params
	m, found := sv.sim.MarketByID(str(p, "symbol"))
	if !found || str(p, "category") != "spot" {
		sv.apiError(w, r, CodeParam, "Request parameter error. symbol invalid")
		return
	}
	qty, _ := strconv.ParseFloat(str(p, "qty"), 64)
	price, _ := strconv.ParseFloat(str(p, "price"), 64)
	typ := strings.ToLower(str(p, "orderType"))
	if typ == "market" {
		price = m.Price
	}
	side := strings.ToLower(str(p, "side"))
	if qty <= 0 || price <= 0 || (side != "buy" && side != "sell") || (typ != "limit" && typ != "market") {
		sv.apiError(w, r, CodeParam, "Request parameter error.")
		return
	}
	o, err := sv.sim.PlaceOrder(exchangesim.Order{Account: rq.key.Account, KeyID: rq.key.ID, Symbol: m.ID(),
		Side: side, Type: typ, Price: price, Amount: qty, ClientOrderID: str(p, "orderLinkId")})
	if err != nil {
		sv.apiError(w, r, 170131, "Insufficient balance.")
		return
	}
	exchangesim.CallOf(r).Result = "order " + o.ID
	sv.ok(w, map[string]any{"orderId": o.ID, "orderLinkId": o.ClientOrderID})
}

func (sv *server) cancelOrder(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.canTrade(w, r, rq) {
		return
	}
	id, link := str(rq.params, "orderId"), str(rq.params, "orderLinkId")
	if id == "" && link != "" {
		for _, o := range sv.sim.OpenOrders(rq.key.Account, "") {
			if o.ClientOrderID == link {
				id = o.ID
			}
		}
	}
	o, err := sv.sim.CancelOrder(rq.key.Account, id)
	if err != nil {
		sv.apiError(w, r, CodeNoOrder, "Order does not exist.")
		return
	}
	exchangesim.CallOf(r).Result = "cancelled " + o.ID
	sv.ok(w, map[string]any{"orderId": o.ID, "orderLinkId": o.ClientOrderID})
}

// cancelAll is POST /v5/order/cancel-all: every open order of the category
// (and symbol, if given) of the caller's account.
func (sv *server) cancelAll(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.canTrade(w, r, rq) {
		return
	}
	list := []map[string]any{}
	if str(rq.params, "category") == "spot" {
		var ids []string
		for _, o := range sv.sim.CancelOrders(rq.key.Account, str(rq.params, "symbol")) {
			list = append(list, map[string]any{"orderId": o.ID, "orderLinkId": o.ClientOrderID})
			ids = append(ids, o.ID)
		}
		exchangesim.CallOf(r).Result = "cancelled " + strconv.Itoa(len(ids)) + " orders " + strings.Join(ids, ",")
	}
	sv.ok(w, map[string]any{"list": list, "success": "1"})
}

// withdraw is POST /v5/asset/withdraw/create; a key without the right gets
// 10005.
func (sv *server) withdraw(w http.ResponseWriter, r *http.Request, rq request) {
	if !rq.key.Perms.Withdraw {
		sv.apiError(w, r, CodeNoPermission, "Permission denied, please check your API key permissions.")
		return
	}
	p := rq.params
	amount, _ := strconv.ParseFloat(str(p, "amount"), 64)
	coin, addr := str(p, "coin"), str(p, "address")
	if coin == "" || addr == "" || amount <= 0 {
		sv.apiError(w, r, CodeParam, "Request parameter error.")
		return
	}
	wd, err := sv.sim.Withdraw(exchangesim.Withdrawal{Account: rq.key.Account, KeyID: rq.key.ID,
		Asset: coin, Amount: amount, Address: addr})
	if errors.Is(err, exchangesim.ErrFunds) {
		sv.apiError(w, r, CodeFunds, "Withdraw amount is greater than available balance")
		return
	}
	exchangesim.CallOf(r).Result = "withdrawal " + wd.ID
	sv.ok(w, map[string]any{"id": wd.ID})
}
