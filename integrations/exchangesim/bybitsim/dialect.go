// Package bybitsim is the Bybit (API v5) dialect of the exchange simulator:
// the spot market, wallet, order and withdrawal endpoints our ccxt adapter
// calls, the user API-key endpoints (create-sub-api, update-sub-api,
// update-api, delete-sub-api, delete-api, query-api, sub-apikeys), Bybit's v5
// request signature (X-BAPI-* headers, hex HMAC-SHA256 of
// timestamp+apiKey+recvWindow+query-or-body) and Bybit's envelope
// {"retCode":0,"retMsg":"OK","result":{…},"retExtInfo":{},"time":…}.
package bybitsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// Name is the dialect name and URL prefix.
const Name = "bybit"

// Bybit v5 retCodes the simulator answers with (Bybit's error table). ccxt
// maps 10003/10004/10007/33004 to AuthenticationError, 10005/10010 to
// PermissionDenied, 10002 to InvalidNonce, 10006/10018 to RateLimitExceeded;
// 10016 it leaves as ExchangeError (the adapter treats it as unavailable).
// Bybit answers these with HTTP 200; only the IP-level ban is an HTTP 403.
const (
	CodeParam        = 10001 // Request parameter error.
	CodeTimestamp    = 10002 // invalid request, please check your server timestamp or recv_window param
	CodeInvalidKey   = 10003 // API key is invalid.
	CodeBadSign      = 10004 // Error sign, please check your signature generation algorithm.
	CodeNoPermission = 10005 // Permission denied, please check your API key permissions.
	CodeTooMany      = 10006 // Too many visits!
	CodeIPRefused    = 10010 // Unmatched IP, please check your API key's bound IP addresses.
	CodeServerError  = 10016 // Internal server error.
	CodeNoOrder      = 110001
	CodeFunds        = 131001 // withdrawal: insufficient balance
	// CodeNoSubMember and CodeNoSubKey: Bybit documents no specific code for
	// an unknown sub UID or sub API key on the key endpoints; the simulator
	// answers 10001 (parameter error) with a message, and the adapter checks
	// existence by listing rather than by code. Verify against a real account.
	CodeNoSubMember = CodeParam
	CodeNoSubKey    = CodeParam
)

// Dialect implements exchangesim.Dialect for Bybit.
type Dialect struct {
	// RecvWindow is used when a request carries no X-BAPI-RECV-WINDOW.
	RecvWindow time.Duration
}

// New returns the Bybit dialect.
func New() *Dialect { return &Dialect{RecvWindow: 5 * time.Second} }

// Name implements exchangesim.Dialect.
func (d *Dialect) Name() string { return Name }

// FaultResponse implements exchangesim.Dialect: retCode 10006 "Too many
// visits!" with Bybit's rate-limit headers (plus Retry-After) for a rate
// limit, retCode 10016 for a server error.
func (d *Dialect) FaultResponse(kind exchangesim.FaultKind, retryAfter time.Duration) (int, http.Header, []byte) {
	h := http.Header{"Content-Type": {"application/json"}}
	now := time.Now()
	if kind == exchangesim.FaultRateLimit {
		h.Set("Retry-After", exchangesim.RetryAfterSeconds(retryAfter))
		h.Set("X-Bapi-Limit", "10")
		h.Set("X-Bapi-Limit-Status", "0")
		h.Set("X-Bapi-Limit-Reset-Timestamp", strconv.FormatInt(now.Add(retryAfter).UnixMilli(), 10))
		b, _ := json.Marshal(envelope(CodeTooMany, "Too many visits!", map[string]any{}, now))
		return http.StatusTooManyRequests, h, b
	}
	b, _ := json.Marshal(envelope(CodeServerError, "Internal server error.", map[string]any{}, now))
	return http.StatusServiceUnavailable, h, b
}

func envelope(code int, msg string, result any, now time.Time) map[string]any {
	return map[string]any{"retCode": code, "retMsg": msg, "result": result, "retExtInfo": map[string]any{},
		"time": now.UnixMilli()}
}

type server struct {
	d   *Dialect
	sim *exchangesim.Sim
}

// Handler implements exchangesim.Dialect.
func (d *Dialect) Handler(s *exchangesim.Sim) http.Handler {
	sv := &server{d: d, sim: s}
	m := http.NewServeMux()
	m.HandleFunc("GET /v5/market/time", sv.serverTime)
	m.HandleFunc("GET /v5/market/instruments-info", sv.instruments)

	m.HandleFunc("GET /v5/user/query-api", sv.private("api_restrictions", sv.queryAPI))
	m.HandleFunc("GET /v5/account/info", sv.private("account_info", sv.accountInfo))
	m.HandleFunc("GET /v5/account/wallet-balance", sv.private("balance", sv.walletBalance))
	m.HandleFunc("GET /v5/order/realtime", sv.private("open_orders", sv.openOrders))
	m.HandleFunc("POST /v5/order/create", sv.private("place_order", sv.createOrder))
	m.HandleFunc("POST /v5/order/cancel", sv.private("cancel_order", sv.cancelOrder))
	m.HandleFunc("POST /v5/order/cancel-all", sv.private("cancel_all", sv.cancelAll))
	m.HandleFunc("POST /v5/asset/withdraw/create", sv.private("withdraw", sv.withdraw))

	m.HandleFunc("GET /v5/user/query-sub-members", sv.private("list_sub_accounts", sv.querySubMembers))
	m.HandleFunc("GET /v5/user/sub-apikeys", sv.private("list_keys", sv.subAPIKeys))
	m.HandleFunc("POST /v5/user/create-sub-api", sv.private("create_key", sv.createSubAPI))
	m.HandleFunc("POST /v5/user/update-sub-api", sv.private("set_permissions", sv.updateSubAPI))
	m.HandleFunc("POST /v5/user/update-api", sv.private("set_permissions", sv.updateAPI))
	m.HandleFunc("POST /v5/user/delete-sub-api", sv.private("revoke_key", sv.deleteSubAPI))
	m.HandleFunc("POST /v5/user/delete-api", sv.private("self_revoke", sv.deleteAPI))
	return m
}

// apiError writes Bybit's error envelope (HTTP 200, as Bybit does) and
// records the code on the call.
func (sv *server) apiError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	exchangesim.CallOf(r).Code = strconv.Itoa(code)
	exchangesim.WriteJSON(w, http.StatusOK, envelope(code, msg, map[string]any{}, sv.sim.Now()))
}

// ok writes Bybit's success envelope.
func (sv *server) ok(w http.ResponseWriter, result any) {
	if result == nil {
		result = map[string]any{}
	}
	exchangesim.WriteJSON(w, http.StatusOK, envelope(0, "OK", result, sv.sim.Now()))
}

// request is a private request whose key, timestamp and signature checked
// out. params holds the JSON body (POST) or the query (GET).
type request struct {
	key    exchangesim.Key
	params map[string]any
	// present records which body fields were sent at all, so "absent" and
	// "empty" differ (update-sub-api: absent ips means no binding).
	present map[string]bool
}

// str reads a body or query field as the exchange's string.
func str(m map[string]any, k string) string { return exchangesim.Str(m, k) }

// private wraps a handler with Bybit v5 authentication.
func (sv *server) private(op string, h func(w http.ResponseWriter, r *http.Request, rq request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		exchangesim.CallOf(r).Op = op
		var payload string
		params := map[string]any{}
		present := map[string]bool{}
		if r.Method == http.MethodPost {
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				sv.apiError(w, r, CodeParam, "Request parameter error.")
				return
			}
			payload = string(b)
			if len(b) > 0 {
				if err := json.Unmarshal(b, &params); err != nil {
					sv.apiError(w, r, CodeParam, "Request parameter error.")
					return
				}
			}
		} else {
			payload = r.URL.RawQuery
			for k, vs := range r.URL.Query() {
				if len(vs) > 0 {
					params[k] = vs[0]
				}
			}
		}
		for k := range params {
			present[k] = true
		}
		key := r.Header.Get("X-BAPI-API-KEY")
		ts := r.Header.Get("X-BAPI-TIMESTAMP")
		sign := r.Header.Get("X-BAPI-SIGN")
		recv := r.Header.Get("X-BAPI-RECV-WINDOW")
		var code int
		var msg string
		k, fail := sv.sim.Authenticate(r, Name, key, func(k exchangesim.Key) exchangesim.AuthFailure {
			if !sv.inWindow(ts, recv) {
				code, msg = CodeTimestamp, "invalid request, please check your server timestamp or recv_window param"
				return exchangesim.AuthExpired
			}
			mac := hmac.New(sha256.New, []byte(k.Secret))
			mac.Write([]byte(ts + key + recv + payload))
			if !exchangesim.EqualMAC(hex.EncodeToString(mac.Sum(nil)), sign) {
				code, msg = CodeBadSign, "Error sign, please check your signature generation algorithm."
				return exchangesim.AuthBadSignature
			}
			return exchangesim.AuthOK
		})
		switch fail {
		case exchangesim.AuthOK:
		case exchangesim.AuthMissingKey, exchangesim.AuthUnknownKey, exchangesim.AuthRevoked:
			sv.apiError(w, r, CodeInvalidKey, "API key is invalid.")
			return
		case exchangesim.AuthIPRefused:
			sv.apiError(w, r, CodeIPRefused, "Unmatched IP, please check your API key's bound IP addresses.")
			return
		default:
			sv.apiError(w, r, code, msg)
			return
		}
		h(w, r, request{key: k, params: params, present: present})
	}
}

// inWindow is Bybit's rule: server_time - recv_window <= timestamp <
// server_time + 1000.
func (sv *server) inWindow(ts, recv string) bool {
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	window := sv.d.RecvWindow
	if rw, err := strconv.ParseInt(recv, 10, 64); err == nil && rw > 0 {
		window = time.Duration(rw) * time.Millisecond
	}
	now := sv.sim.Now().UnixMilli()
	return now-window.Milliseconds() <= t && t < now+1000
}

func (sv *server) serverTime(w http.ResponseWriter, r *http.Request) {
	exchangesim.CallOf(r).Op = "time"
	now := sv.sim.Now()
	sv.ok(w, map[string]any{"timeSecond": strconv.FormatInt(now.Unix(), 10),
		"timeNano": strconv.FormatInt(now.UnixNano(), 10)})
}

func msStr(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}
