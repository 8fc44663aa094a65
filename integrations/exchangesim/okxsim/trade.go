package okxsim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// instID is OKX's spot instrument id ("BTC-USDT").
func instID(m exchangesim.Market) string { return m.Base + "-" + m.Quote }

// market finds a market by OKX instrument id.
func (sv *server) market(inst string) (exchangesim.Market, bool) {
	base, quote, found := strings.Cut(inst, "-")
	if !found {
		return exchangesim.Market{}, false
	}
	return sv.sim.MarketByID(base + quote)
}

// instOf converts the core's concatenated market id back to OKX's.
func (sv *server) instOf(symbol string) string {
	if m, found := sv.sim.MarketByID(symbol); found {
		return instID(m)
	}
	return symbol
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// instruments serves GET /api/v5/public/instruments for instType=SPOT, what
// ccxt's fetchMarkets calls with the adapter's spot-only options.
func (sv *server) instruments(w http.ResponseWriter, r *http.Request) {
	exchangesim.CallOf(r).Op = "markets"
	typ := r.URL.Query().Get("instType")
	if typ == "" {
		apiError(w, r, 400, CodeParamEmpty, "Parameter instType can not be empty.")
		return
	}
	var out []map[string]any
	if typ == "SPOT" {
		for _, m := range sv.sim.Markets() {
			out = append(out, map[string]any{
				"instType": "SPOT", "instId": instID(m), "uly": "", "instFamily": "", "category": "1",
				"baseCcy": m.Base, "quoteCcy": m.Quote, "settleCcy": "", "ctVal": "", "ctMult": "", "ctValCcy": "",
				"optType": "", "stk": "", "listTime": "1606468572000", "expTime": "", "lever": "10",
				"tickSz": "0.01", "lotSz": "0.00000001", "minSz": "0.00001", "ctType": "", "alias": "",
				"state": "live", "maxLmtSz": "9999999999", "maxMktSz": "1000000",
			})
		}
	}
	ok(w, out)
}

func (sv *server) balance(w http.ResponseWriter, r *http.Request, rq request) {
	now := ms(sv.sim.Now())
	only := map[string]bool{}
	for _, c := range splitIPs(r.URL.Query().Get("ccy")) { // a comma list, like ip
		only[c] = true
	}
	var details []map[string]any
	for asset, v := range sv.sim.Balances(rq.key.Account) {
		if len(only) > 0 && !only[asset] {
			continue
		}
		details = append(details, map[string]any{
			"ccy": asset, "eq": num(v), "cashBal": num(v), "availBal": num(v), "availEq": num(v),
			"frozenBal": "0", "ordFrozen": "0", "disEq": num(v), "uTime": now,
		})
	}
	ok(w, []map[string]any{{"uTime": now, "totalEq": "", "adjEq": "", "details": details}})
}

func (sv *server) orderJSON(o exchangesim.Order) map[string]any {
	state := map[string]string{"open": "live", "canceled": "canceled", "filled": "filled"}[o.Status]
	filled := "0"
	if o.Status == "filled" {
		filled = num(o.Amount)
	}
	return map[string]any{
		"instType": "SPOT", "instId": sv.instOf(o.Symbol), "ordId": o.ID, "clOrdId": o.ClientOrderID, "tag": "",
		"px": num(o.Price), "sz": num(o.Amount), "ordType": o.Type, "side": o.Side, "posSide": "net",
		"tdMode": "cash", "accFillSz": filled, "fillPx": "", "fillSz": "0", "avgPx": "", "state": state,
		"lever": "", "fee": "0", "feeCcy": "", "pnl": "0", "category": "normal", "ccy": "",
		"cTime": ms(o.CreatedAt), "uTime": ms(o.CreatedAt),
	}
}

func (sv *server) ordersPending(w http.ResponseWriter, r *http.Request, rq request) {
	q := r.URL.Query()
	symbol := ""
	if inst := q.Get("instId"); inst != "" {
		m, found := sv.market(inst)
		if !found {
			apiError(w, r, 200, CodeNoInstrument, "Instrument ID, Instrument ID code or Spread ID doesn't exist.")
			return
		}
		symbol = m.ID()
	}
	var out []map[string]any
	for _, o := range sv.sim.OpenOrders(rq.key.Account, symbol) {
		out = append(out, sv.orderJSON(o))
	}
	ok(w, out)
}

// batchResult writes per-item results with OKX's top-level code: "0" all
// succeeded, "1" all failed, "2" some failed.
func batchResult(w http.ResponseWriter, r *http.Request, items []map[string]any) {
	failed := 0
	for _, it := range items {
		if it["sCode"] != "0" {
			failed++
		}
	}
	switch {
	case failed == 0:
		ok(w, items)
	default:
		code, msg := "1", "All operations failed"
		if failed < len(items) {
			code, msg = "2", "Bulk operation partially succeeded"
		}
		exchangesim.CallOf(r).Code = code
		exchangesim.WriteJSON(w, 200, map[string]any{"code": code, "msg": msg, "data": items})
	}
}

// tradeBatch is the common start of the order endpoints: the key must hold
// the trade right and the body must be one order object or a non-empty
// array of them. On a problem it answers as OKX does and reports false.
func tradeBatch(w http.ResponseWriter, r *http.Request, rq request) ([]map[string]any, bool) {
	if !rq.key.Perms.Trade {
		apiError(w, r, 200, CodeNoPermission, "This API key doesn't have permission to use this function")
		return nil, false
	}
	reqs, good := rq.list()
	if !good || len(reqs) == 0 {
		apiError(w, r, 400, "50002", "JSON syntax error")
		return nil, false
	}
	return reqs, true
}

// placeOrder serves trade/order (one object) and trade/batch-orders (an
// array; ccxt's default createOrder path).
func (sv *server) placeOrder(w http.ResponseWriter, r *http.Request, rq request) {
	reqs, good := tradeBatch(w, r, rq)
	if !good {
		return
	}
	var placed []string
	var out []map[string]any
	for _, p := range reqs {
		res := map[string]any{"clOrdId": str(p, "clOrdId"), "ordId": "", "tag": str(p, "tag"), "ts": ms(sv.sim.Now())}
		m, found := sv.market(str(p, "instId"))
		if !found {
			res["sCode"], res["sMsg"] = CodeNoInstrument, "Instrument ID, Instrument ID code or Spread ID doesn't exist."
			out = append(out, res)
			continue
		}
		typ := strings.ToLower(str(p, "ordType"))
		sz, _ := strconv.ParseFloat(str(p, "sz"), 64)
		px, _ := strconv.ParseFloat(str(p, "px"), 64)
		if typ == "market" {
			px = m.Price
		} else if typ != "" {
			typ = "limit" // post_only, fok, ioc rest like limits here
		}
		side := strings.ToLower(str(p, "side"))
		if sz <= 0 || px <= 0 || (side != "buy" && side != "sell") || typ == "" {
			res["sCode"], res["sMsg"] = CodeParam, "Parameter sz error"
			out = append(out, res)
			continue
		}
		o, err := sv.sim.PlaceOrder(exchangesim.Order{Account: rq.key.Account, KeyID: rq.key.ID, Symbol: m.ID(),
			Side: side, Type: typ, Price: px, Amount: sz, ClientOrderID: str(p, "clOrdId")})
		if err != nil {
			res["sCode"], res["sMsg"] = "51008", "Order failed. Insufficient balance"
			out = append(out, res)
			continue
		}
		res["ordId"], res["sCode"], res["sMsg"] = o.ID, "0", "Order placed"
		placed = append(placed, o.ID)
		out = append(out, res)
	}
	if len(placed) > 0 {
		exchangesim.CallOf(r).Result = "orders " + strings.Join(placed, ",")
	}
	batchResult(w, r, out)
}

// cancelOrders serves trade/cancel-order and trade/cancel-batch-orders.
func (sv *server) cancelOrders(w http.ResponseWriter, r *http.Request, rq request) {
	reqs, good := tradeBatch(w, r, rq)
	if !good {
		return
	}
	var out []map[string]any
	var done []string
	for _, p := range reqs {
		id, cl := str(p, "ordId"), str(p, "clOrdId")
		res := map[string]any{"ordId": id, "clOrdId": cl, "ts": ms(sv.sim.Now())}
		if id == "" && cl != "" {
			for _, o := range sv.sim.OpenOrders(rq.key.Account, "") {
				if o.ClientOrderID == cl {
					id = o.ID
				}
			}
		}
		o, err := sv.sim.CancelOrder(rq.key.Account, id)
		if err != nil {
			res["sCode"], res["sMsg"] = CodeCancelFailed,
				"Order cancellation failed as the order has been filled, canceled or does not exist"
			out = append(out, res)
			continue
		}
		res["ordId"], res["clOrdId"], res["sCode"], res["sMsg"] = o.ID, o.ClientOrderID, "0", ""
		done = append(done, o.ID)
		out = append(out, res)
	}
	if len(done) > 0 {
		exchangesim.CallOf(r).Result = "cancelled " + strings.Join(done, ",")
	}
	batchResult(w, r, out)
}

// withdraw is POST /api/v5/asset/withdrawal. A key without the withdraw
// right gets 50120; a sub-account can never withdraw on OKX (59504).
func (sv *server) withdraw(w http.ResponseWriter, r *http.Request, rq request) {
	if !rq.key.Perms.Withdraw {
		apiError(w, r, 200, CodeNoPermission, "This API key doesn't have permission to use this function")
		return
	}
	if acc, found := sv.sim.Account(rq.key.Account); found && acc.Parent != "" {
		apiError(w, r, 200, CodeSubNoWithdraw, "Sub-accounts don't support withdrawals. Please use your main account for withdrawals.")
		return
	}
	p, good := rq.object()
	if !good {
		apiError(w, r, 400, "50002", "JSON syntax error")
		return
	}
	amt, _ := strconv.ParseFloat(str(p, "amt"), 64)
	ccy, addr := str(p, "ccy"), str(p, "toAddr")
	if ccy == "" || addr == "" || amt <= 0 {
		apiError(w, r, 400, CodeParamEmpty, "Parameter amt can not be empty.")
		return
	}
	wd, err := sv.sim.Withdraw(exchangesim.Withdrawal{Account: rq.key.Account, KeyID: rq.key.ID,
		Asset: ccy, Amount: amt, Address: addr})
	if errors.Is(err, exchangesim.ErrFunds) {
		apiError(w, r, 200, CodeFunds, "Insufficient balance")
		return
	}
	exchangesim.CallOf(r).Result = "withdrawal " + wd.ID
	ok(w, []map[string]any{{"amt": num(amt), "wdId": wd.ID, "ccy": ccy, "clientId": str(p, "clientId"), "chain": str(p, "chain")}})
}
