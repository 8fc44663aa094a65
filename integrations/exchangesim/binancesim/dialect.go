// Package binancesim is the Binance dialect of the exchange simulator: the
// spot, sapi capital and sub-account API-key endpoints our ccxt adapter calls,
// with Binance's HMAC-SHA256 query signature and its error bodies.
package binancesim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// Name is the dialect name and URL prefix.
const Name = "binance"

// Binance error codes the simulator answers with. The first block are the
// exchange's documented codes; ccxt maps them by code (-2015, -1022 →
// AuthenticationError, -1021 → InvalidNonce, -1002 → by message,
// PermissionDenied, -1003 → RateLimitExceeded).
const (
	CodeUnauthorized = -1002 // "You are not authorized to execute this request."
	CodeTooMany      = -1003
	CodeTimestamp    = -1021
	CodeBadSignature = -1022
	CodeMandatory    = -1102
	CodeUnknownOrder = -2011
	CodeInvalidKey   = -2015 // unknown, revoked, IP refused: one code, as on Binance
	CodeBalance      = -2010
	// Sub-account key codes: Binance documents no stable code for these; the
	// adapter matches these values and the messages. Verify against a real
	// account before relying on them in production mappings.
	CodeNoSubAccount = -12010
	CodeNoSubKey     = -12015
)

// Dialect implements exchangesim.Dialect for Binance.
type Dialect struct {
	// RecvWindow is the default receive window when a request has none.
	RecvWindow time.Duration
}

// New returns the Binance dialect.
func New() *Dialect { return &Dialect{RecvWindow: 5 * time.Second} }

// Name implements exchangesim.Dialect.
func (d *Dialect) Name() string { return Name }

// FaultResponse implements exchangesim.Dialect with Binance's 429 body and a
// 503 for server errors.
func (d *Dialect) FaultResponse(kind exchangesim.FaultKind, retryAfter time.Duration) (int, http.Header, []byte) {
	h := http.Header{"Content-Type": {"application/json"}}
	if kind == exchangesim.FaultRateLimit {
		h.Set("Retry-After", exchangesim.RetryAfterSeconds(retryAfter))
		return http.StatusTooManyRequests, h,
			[]byte(`{"code":-1003,"msg":"Too many requests; current limit is 6000 request weight per 1 MINUTE. Please use the websocket for live updates to avoid polling the API."}`)
	}
	// A 5xx from Binance's edge is an HTML page, not a JSON error: ccxt
	// then falls back to its HTTP status table (503 → ExchangeNotAvailable).
	h.Set("Content-Type", "text/html")
	return http.StatusServiceUnavailable, h, []byte("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>")
}

type server struct {
	d   *Dialect
	sim *exchangesim.Sim
	mux *http.ServeMux
}

// Handler implements exchangesim.Dialect.
func (d *Dialect) Handler(s *exchangesim.Sim) http.Handler {
	sv := &server{d: d, sim: s, mux: http.NewServeMux()}
	m := sv.mux
	m.HandleFunc("GET /api/v3/ping", func(w http.ResponseWriter, r *http.Request) { exchangesim.WriteJSON(w, 200, map[string]any{}) })
	m.HandleFunc("GET /api/v3/time", sv.serverTime)
	m.HandleFunc("GET /api/v3/exchangeInfo", sv.exchangeInfo)

	m.HandleFunc("GET /api/v3/account", sv.signed("balance", sv.account))
	m.HandleFunc("GET /api/v3/openOrders", sv.signed("open_orders", sv.openOrders))
	m.HandleFunc("DELETE /api/v3/openOrders", sv.signed("cancel_all", sv.cancelAll))
	m.HandleFunc("POST /api/v3/order", sv.signed("place_order", sv.placeOrder))
	m.HandleFunc("DELETE /api/v3/order", sv.signed("cancel_order", sv.cancelOrder))

	m.HandleFunc("POST /sapi/v1/capital/withdraw/apply", sv.signed("withdraw", sv.withdraw))
	m.HandleFunc("GET /sapi/v1/account/apiRestrictions", sv.signed("api_restrictions", sv.apiRestrictions))
	m.HandleFunc("GET /sapi/v1/account/apiRestrictions/ipRestriction", sv.signed("api_restrictions", sv.ownIPRestriction))

	m.HandleFunc("GET /sapi/v1/sub-account/subAccountApi", sv.signed("list_keys", sv.listSubKeys))
	m.HandleFunc("POST /sapi/v1/sub-account/subAccountApi", sv.signed("create_key", sv.createSubKey))
	m.HandleFunc("POST /sapi/v2/sub-account/subAccountApi", sv.signed("create_key", sv.createSubKey))
	m.HandleFunc("DELETE /sapi/v1/sub-account/subAccountApi", sv.signed("revoke_key", sv.deleteSubKey))
	m.HandleFunc("POST /sapi/v1/sub-account/subAccountApiPermission", sv.signed("set_permissions", sv.setSubKeyPermission))
	m.HandleFunc("GET /sapi/v1/sub-account/subAccountApi/ipRestriction", sv.signed("key_info", sv.getIPRestriction))
	m.HandleFunc("POST /sapi/v2/sub-account/subAccountApi/ipRestriction", sv.signed("set_ip_whitelist", sv.addIPRestriction))
	m.HandleFunc("DELETE /sapi/v1/sub-account/subAccountApi/ipRestriction/ipList", sv.signed("set_ip_whitelist", sv.deleteIPList))
	return sv.mux
}

// apiError writes Binance's error body and records the code on the call.
func apiError(w http.ResponseWriter, r *http.Request, status, code int, msg string) {
	exchangesim.CallOf(r).Code = strconv.Itoa(code)
	exchangesim.WriteJSON(w, status, map[string]any{"code": code, "msg": msg})
}

// signedRequest is a request whose key and signature checked out.
type signedRequest struct {
	key    exchangesim.Key
	params url.Values
}

// signed wraps a handler with Binance's authentication: X-MBX-APIKEY, HMAC
// of the exact bytes before "&signature=", timestamp within recvWindow.
func (sv *server) signed(op string, h func(w http.ResponseWriter, r *http.Request, sr signedRequest)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		exchangesim.CallOf(r).Op = op
		payload := r.URL.RawQuery
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				apiError(w, r, 400, CodeMandatory, "unreadable body")
				return
			}
			// Binance signs query then body when both are present.
			payload += string(body)
		}
		i := strings.LastIndex(payload, "&signature=")
		if i < 0 {
			if strings.HasPrefix(payload, "signature=") {
				i = 0
			} else {
				apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
				return
			}
		}
		signedPart, sig := payload[:i], payload[i+len("&signature="):]
		params, err := url.ParseQuery(signedPart)
		if err != nil {
			apiError(w, r, 400, CodeMandatory, "malformed parameters")
			return
		}
		var expired bool
		k, fail := sv.sim.Authenticate(r, Name, r.Header.Get("X-MBX-APIKEY"), func(k exchangesim.Key) exchangesim.AuthFailure {
			mac := hmac.New(sha256.New, []byte(k.Secret))
			mac.Write([]byte(signedPart))
			if !exchangesim.EqualMAC(hex.EncodeToString(mac.Sum(nil)), sig) {
				return exchangesim.AuthBadSignature
			}
			if !sv.inWindow(params) {
				expired = true
				return exchangesim.AuthExpired
			}
			return exchangesim.AuthOK
		})
		switch {
		case fail == exchangesim.AuthOK:
		case fail == exchangesim.AuthBadSignature:
			apiError(w, r, 400, CodeBadSignature, "Signature for this request is not valid.")
			return
		case expired:
			apiError(w, r, 400, CodeTimestamp, "Timestamp for this request is outside of the recvWindow.")
			return
		default:
			// Binance answers unknown, revoked and IP-refused keys alike.
			apiError(w, r, 401, CodeInvalidKey, "Invalid API-key, IP, or permissions for action.")
			return
		}
		h(w, r, signedRequest{key: k, params: params})
	}
}

func (sv *server) inWindow(p url.Values) bool {
	ts, err := strconv.ParseInt(p.Get("timestamp"), 10, 64)
	if err != nil {
		return false
	}
	window := sv.d.RecvWindow
	if rw, err := strconv.ParseInt(p.Get("recvWindow"), 10, 64); err == nil && rw > 0 {
		window = time.Duration(min(rw, 60000)) * time.Millisecond
	}
	now := sv.sim.Now()
	t := time.UnixMilli(ts)
	// Binance accepts a timestamp up to 1s ahead of its clock.
	return !t.After(now.Add(time.Second)) && now.Sub(t) <= window
}

func (sv *server) serverTime(w http.ResponseWriter, r *http.Request) {
	exchangesim.CallOf(r).Op = "time"
	exchangesim.WriteJSON(w, 200, map[string]any{"serverTime": sv.sim.Now().UnixMilli()})
}

func boolParam(p url.Values, name string) bool {
	v := strings.ToLower(p.Get(name))
	return v == "true" || v == "1"
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', 8, 64) }
