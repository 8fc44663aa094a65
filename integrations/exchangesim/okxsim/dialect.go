// Package okxsim is the OKX (API v5) dialect of the exchange simulator: the
// public instruments, trading-account, order and withdrawal endpoints our ccxt
// adapter calls, the sub-account API-key endpoints, OKX's request signature
// (base64 HMAC-SHA256 of timestamp+method+path+body with the passphrase
// header) and OKX's error envelope {"code":"…","msg":"…","data":[…]}.
package okxsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// Name is the dialect name and URL prefix.
const Name = "okx"

// OKX error codes the simulator answers with, from OKX's published REST
// error table (HTTP status in brackets). ccxt maps 50102 to InvalidNonce,
// 50103–50114 to AuthenticationError (50110 to PermissionDenied), 50011 to
// RateLimitExceeded, 50001 to OnMaintenance; it leaves 50119, 50120, 50035
// and the 59xxx sub-account codes as a plain ExchangeError, so the adapter
// classifies those by code.
const (
	CodeServiceDown   = "50001" // [503] Service temporarily unavailable.
	CodeRateLimit     = "50011" // [429] Too Many Requests
	CodeParamEmpty    = "50014" // [400] Parameter {param0} can not be empty.
	CodeNeedIPBinding = "50035" // [403] This endpoint requires that APIKey must be bound to IP
	CodeTimestampOld  = "50102" // [401] Timestamp request expired.
	CodeNoKeyHeader   = "50103" // [401] Request header "OK-ACCESS-KEY" cannot be empty.
	CodeNoPassphrase  = "50104" // [401]
	CodeBadPassphrase = "50105" // [401]
	CodeNoSign        = "50106" // [401]
	CodeNoTimestamp   = "50107" // [401]
	CodeIPRefused     = "50110" // [401] Your IP {ip} is not included in your API key's IP whitelist.
	CodeBadTimestamp  = "50112" // [401]
	CodeBadSignature  = "50113" // [401] Invalid signature.
	CodeNoSuchKey     = "50119" // API key doesn't exist (401 in practice; the table says 200)
	CodeNoPermission  = "50120" // [200] This API key doesn't have permission to use this function
	CodeParam         = "51000" // [400] Parameter {param0} error
	CodeNoInstrument  = "51001" // Instrument ID … doesn't exist.
	CodeCancelFailed  = "51400" // Order cancellation failed as the order has been filled, canceled or does not exist
	CodeMainKeyOnly   = "59500" // Only the API key of the main account has permission.
	CodeDupLabel      = "59502" // This note name already exists. Enter a unique API key note name
	CodeTooManyIPs    = "59503" // Each API key can bind up to 20 IP addresses
	CodeSubNoWithdraw = "59504" // Sub-accounts don't support withdrawals.
	CodeBadPassFormat = "59505" // The passphrase format is incorrect.
	CodeNoSubKey      = "59506" // API key doesn't exist.
	CodeNoSubAccount  = "59510" // Sub-account does not exist
	CodeFunds         = "58350" // Insufficient balance
)

// MaxIPs is how many addresses one OKX key may list.
const MaxIPs = 20

// Dialect implements exchangesim.Dialect for OKX.
type Dialect struct {
	// Window is how far a request's OK-ACCESS-TIMESTAMP may be from the
	// simulator clock (OKX: 30 seconds).
	Window time.Duration
}

// New returns the OKX dialect.
func New() *Dialect { return &Dialect{Window: 30 * time.Second} }

// Name implements exchangesim.Dialect.
func (d *Dialect) Name() string { return Name }

// FaultResponse implements exchangesim.Dialect with OKX's 429 (code 50011)
// and 503 (code 50001) bodies, which ccxt turns into RateLimitExceeded and
// OnMaintenance.
func (d *Dialect) FaultResponse(kind exchangesim.FaultKind, retryAfter time.Duration) (int, http.Header, []byte) {
	h := http.Header{"Content-Type": {"application/json"}}
	if kind == exchangesim.FaultRateLimit {
		h.Set("Retry-After", exchangesim.RetryAfterSeconds(retryAfter))
		return http.StatusTooManyRequests, h, []byte(`{"code":"50011","msg":"Too Many Requests","data":[]}`)
	}
	return http.StatusServiceUnavailable, h,
		[]byte(`{"code":"50001","msg":"Service temporarily unavailable. Please try again later.","data":[]}`)
}

type server struct {
	d   *Dialect
	sim *exchangesim.Sim
}

// Handler implements exchangesim.Dialect.
func (d *Dialect) Handler(s *exchangesim.Sim) http.Handler {
	sv := &server{d: d, sim: s}
	m := http.NewServeMux()
	m.HandleFunc("GET /api/v5/public/time", sv.serverTime)
	m.HandleFunc("GET /api/v5/public/instruments", sv.instruments)

	m.HandleFunc("GET /api/v5/account/config", sv.private("api_restrictions", sv.accountConfig))
	m.HandleFunc("GET /api/v5/account/balance", sv.private("balance", sv.balance))
	m.HandleFunc("GET /api/v5/trade/orders-pending", sv.private("open_orders", sv.ordersPending))
	m.HandleFunc("POST /api/v5/trade/order", sv.private("place_order", sv.placeOrder))
	m.HandleFunc("POST /api/v5/trade/batch-orders", sv.private("place_order", sv.placeOrder))
	m.HandleFunc("POST /api/v5/trade/cancel-order", sv.private("cancel_order", sv.cancelOrders))
	m.HandleFunc("POST /api/v5/trade/cancel-batch-orders", sv.private("cancel_all", sv.cancelOrders))
	m.HandleFunc("POST /api/v5/asset/withdrawal", sv.private("withdraw", sv.withdraw))

	m.HandleFunc("GET /api/v5/users/subaccount/list", sv.private("list_sub_accounts", sv.listSubAccounts))
	m.HandleFunc("GET /api/v5/users/subaccount/apikey", sv.private("list_keys", sv.queryKeys))
	m.HandleFunc("POST /api/v5/users/subaccount/apikey", sv.private("create_key", sv.createKey))
	m.HandleFunc("POST /api/v5/users/subaccount/modify-apikey", sv.private("set_permissions", sv.modifyKey))
	m.HandleFunc("POST /api/v5/users/subaccount/delete-apikey", sv.private("revoke_key", sv.deleteKey))
	return m
}

// apiError writes OKX's error envelope and records the code on the call.
func apiError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	exchangesim.CallOf(r).Code = code
	exchangesim.WriteJSON(w, status, map[string]any{"code": code, "msg": msg, "data": []any{}})
}

// ok writes OKX's success envelope.
func ok(w http.ResponseWriter, data []map[string]any) {
	if data == nil {
		data = []map[string]any{}
	}
	exchangesim.WriteJSON(w, http.StatusOK, map[string]any{"code": "0", "msg": "", "data": data})
}

// request is a private request whose key, passphrase, timestamp and
// signature checked out.
type request struct {
	key  exchangesim.Key
	body []byte
}

// object decodes a JSON object body; fields keep "absent" distinct from
// "empty" (modify-apikey's ip="" means "remove the whitelist").
func (rq request) object() (map[string]any, bool) {
	if len(rq.body) == 0 {
		return map[string]any{}, true
	}
	var m map[string]any
	if err := json.Unmarshal(rq.body, &m); err != nil {
		return nil, false
	}
	return m, true
}

// list decodes a body that is a JSON array of objects, or one object (the
// batch endpoints take an array; ccxt's single-order path sends an object).
func (rq request) list() ([]map[string]any, bool) {
	var l []map[string]any
	if err := json.Unmarshal(rq.body, &l); err == nil {
		return l, true
	}
	m, ok := rq.object()
	if !ok {
		return nil, false
	}
	return []map[string]any{m}, true
}

// str reads a body or query field as the exchange's string.
func str(m map[string]any, k string) string { return exchangesim.Str(m, k) }

// private wraps a handler with OKX's authentication, checked in the order
// OKX reports problems: missing headers, then (in the core) unknown or
// revoked key and IP whitelist, then timestamp window, passphrase and
// signature over the exact bytes received.
func (sv *server) private(op string, h func(w http.ResponseWriter, r *http.Request, rq request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		exchangesim.CallOf(r).Op = op
		var body []byte
		if r.Method == http.MethodPost {
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				apiError(w, r, 400, "50002", "JSON syntax error")
				return
			}
			body = b
		}
		key := r.Header.Get("OK-ACCESS-KEY")
		sign := r.Header.Get("OK-ACCESS-SIGN")
		ts := r.Header.Get("OK-ACCESS-TIMESTAMP")
		pass := r.Header.Get("OK-ACCESS-PASSPHRASE")
		switch {
		case key == "":
			exchangesim.CallOf(r).KeyID = ""
			apiError(w, r, 401, CodeNoKeyHeader, `Request header "OK-ACCESS-KEY" cannot be empty.`)
			return
		case sign == "":
			exchangesim.CallOf(r).KeyID = key
			apiError(w, r, 401, CodeNoSign, `Request header "OK-ACCESS-SIGN" cannot be empty.`)
			return
		case ts == "":
			exchangesim.CallOf(r).KeyID = key
			apiError(w, r, 401, CodeNoTimestamp, `Request header "OK-ACCESS-TIMESTAMP" cannot be empty.`)
			return
		case pass == "":
			exchangesim.CallOf(r).KeyID = key
			apiError(w, r, 401, CodeNoPassphrase, `Request header "OK-ACCESS-PASSPHRASE" cannot be empty.`)
			return
		}
		// The path OKX signs is the request path with its query, as sent
		// (the core strips the /okx mount prefix, which ccxt does not sign).
		target := r.URL.Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		var code, msg string
		k, fail := sv.sim.Authenticate(r, Name, key, func(k exchangesim.Key) exchangesim.AuthFailure {
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				code, msg = CodeBadTimestamp, "Invalid OK-ACCESS-TIMESTAMP."
				return exchangesim.AuthExpired
			}
			if d := sv.sim.Now().Sub(t); d > sv.d.Window || d < -sv.d.Window {
				code, msg = CodeTimestampOld, "Timestamp request expired."
				return exchangesim.AuthExpired
			}
			if !exchangesim.EqualMAC(pass, k.Passphrase) {
				code, msg = CodeBadPassphrase, `Request header "OK-ACCESS-PASSPHRASE" incorrect.`
				return exchangesim.AuthBadSignature
			}
			mac := hmac.New(sha256.New, []byte(k.Secret))
			mac.Write([]byte(ts + r.Method + target))
			mac.Write(body)
			if !exchangesim.EqualMAC(base64.StdEncoding.EncodeToString(mac.Sum(nil)), sign) {
				code, msg = CodeBadSignature, "Invalid signature."
				return exchangesim.AuthBadSignature
			}
			return exchangesim.AuthOK
		})
		switch fail {
		case exchangesim.AuthOK:
		case exchangesim.AuthUnknownKey, exchangesim.AuthRevoked:
			apiError(w, r, 401, CodeNoSuchKey, "API key doesn't exist")
			return
		case exchangesim.AuthIPRefused:
			apiError(w, r, 401, CodeIPRefused,
				"Your IP "+exchangesim.ClientIP(r)+" is not included in your API key's IP whitelist.")
			return
		default:
			apiError(w, r, 401, code, msg)
			return
		}
		h(w, r, request{key: k, body: body})
	}
}

func (sv *server) serverTime(w http.ResponseWriter, r *http.Request) {
	exchangesim.CallOf(r).Op = "time"
	ok(w, []map[string]any{{"ts": ms(sv.sim.Now())}})
}

// ms is OKX's millisecond timestamp string.
func ms(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}
