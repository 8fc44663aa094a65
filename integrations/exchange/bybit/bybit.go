// Package bybit is the Bybit (API v5) adapter of integrations/exchange,
// built on ccxt.
//
// The management credential is a main-account API key with a Wallet
// permission ("Account Transfer" / "Subaccount Transfer" — Bybit requires one
// of these, or "Withdrawal", for create-sub-api, update-sub-api and
// delete-sub-api), bound to the engine's IP addresses. That makes it a
// high-privilege key: keep it in the secret store, never on a bot host, and
// give it no trading rights.
//
// What a bot key gets: readOnly 0, permissions {"Spot":["SpotTrade"]}
// (ContractTrade only when the runbook asks for futures), no Wallet group
// (no transfers, no withdrawals), ips = the bot's addresses, and a note
// naming the incident and step.
//
// Emergency self-revoke: a Bybit key can delete itself (delete-api for a
// main-account key, delete-sub-api without apikey for a sub-account key),
// but only if it holds a Wallet transfer permission. SelfRevoke uses that
// when the leaked key is all we have; a trade-only key cannot, and needs the
// management key or the web UI.
//
// Manual fallback: in the Bybit web UI, Account → API → delete the key (or
// Subaccount → API management for a sub-account key); then VerifyKey with
// the old key must report Authenticated=false (retCode 10003).
//
// Import it (blank import is enough) to make exchange.Open("bybit") work.
package bybit

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Name is the exchange id.
const Name = "bybit"

func init() { exchange.Register(Name, Open) }

// Adapter implements exchange.Exchange for Bybit.
type Adapter struct {
	cfg     exchange.Config
	timeout time.Duration
	pool    *ccxtutil.Pool[*ccxt.Bybit]
}

var (
	_ exchange.Exchange       = (*Adapter)(nil)
	_ exchange.TraderProvider = (*Adapter)(nil)
)

// Open builds the adapter. It does not call the exchange.
func Open(cfg exchange.Config) (exchange.Exchange, error) {
	a := &Adapter{cfg: cfg, timeout: ccxtutil.Timeout(cfg.Options)}
	a.pool = ccxtutil.NewPool(Name, cfg, a.timeout, ccxtutil.Spec[*ccxt.Bybit]{Build: a.build})
	return a, nil
}

// Name implements exchange.Exchange.
func (a *Adapter) Name() string { return Name }

// Capabilities implements exchange.Exchange.
func (a *Adapter) Capabilities() exchange.Capabilities {
	return exchange.Capabilities{ManageSubAccountKeys: true, SelfRevoke: true}
}

// Close implements exchange.Exchange: drops pooled clients and idle
// connections.
func (a *Adapter) Close() error {
	a.pool.Close()
	return nil
}

// ClientPool reports on the adapter's pool of built ccxt clients.
func (a *Adapter) ClientPool() ccxtutil.PoolStats { return a.pool }

// build makes a ccxt client on cred for the pool. The unified-account
// options are fixed here, so ccxt never rewrites them from an answer; no
// other option changes error semantics after a success (no Spec.Reset).
func (a *Adapter) build(cred exchange.Credential, hc *http.Client) (*ccxt.Bybit, error) {
	options := map[string]interface{}{
		"fetchMarkets": map[string]interface{}{"types": []interface{}{"spot"}},
		"defaultType":  "spot",
		// Unified trading account (every new Bybit account is one). Saying
		// so spares ccxt a query-api + account/info round before balance,
		// order and cancel calls.
		"enableUnifiedAccount": true,
		"enableUnifiedMargin":  false,
		"unifiedMarginStatus":  6,
	}
	if v, ok := a.cfg.Options["recv_window_ms"].(float64); ok && v > 0 {
		options["recvWindow"] = int64(v)
	}
	conf := map[string]interface{}{
		"apiKey":          cred.APIKey,
		"secret":          cred.Secret,
		"enableRateLimit": false, // the workflow's retry policy paces us
		// fetchCurrencies is a private call whose failure ccxt swallows;
		// markets give the currency codes we use.
		"has":     map[string]interface{}{"fetchCurrencies": false},
		"options": options,
	}
	if base := strings.TrimRight(a.cfg.BaseURL, "/"); base != "" {
		conf["urls"] = map[string]interface{}{"api": map[string]interface{}{
			"spot": base, "futures": base, "v2": base, "public": base, "private": base,
		}}
	}
	ex := ccxt.NewBybit(conf)
	if err := ccxtutil.BindHTTP(Name, &ex.Exchange, hc); err != nil {
		return nil, err
	}
	return ex, nil
}

// with runs fn on a pooled client for cred.
func (a *Adapter) with(ctx context.Context, purpose string, cred exchange.Credential, localAddr string, fn func(ex *ccxt.Bybit) error) error {
	return a.pool.Do(ctx, purpose, cred, localAddr, fn)
}

// codeKinds refines ccxt's classification with Bybit retCodes it leaves as
// a generic ExchangeError or maps too coarsely.
var codeKinds = map[string]exchange.Kind{
	"10003":  exchange.KindAuthentication, // API key is invalid (unknown or deleted)
	"10004":  exchange.KindAuthentication, // bad signature
	"10007":  exchange.KindAuthentication,
	"33004":  exchange.KindAuthentication, // api key expired
	"10005":  exchange.KindPermission,     // the key lacks the permission
	"10010":  exchange.KindPermission,     // unmatched IP
	"10027":  exchange.KindPermission,
	"10029":  exchange.KindPermission,
	"10006":  exchange.KindRateLimited,
	"10018":  exchange.KindRateLimited,
	"10016":  exchange.KindUnavailable, // internal server error / service restarting
	"10001":  exchange.KindInvalid,
	"110001": exchange.KindNotFound, // order does not exist
}

// call runs one implicit endpoint method and classifies its error.
func (a *Adapter) call(ctx context.Context, ex *ccxt.Bybit, op string, ch <-chan interface{}) (map[string]interface{}, error) {
	res, err := ccxtutil.Await(ctx, ch)
	if err != nil {
		return nil, a.classify(op, ex, err)
	}
	return ccxtutil.Map(ccxtutil.Map(res)["result"]), nil
}

func (a *Adapter) classify(op string, ex *ccxt.Bybit, err error) error {
	var headers interface{}
	if ex != nil {
		headers = ex.LastResponseHeaders
	}
	err = ccxtutil.Classify(Name, op, err, headers, codeKinds)
	// Bybit announces the end of a rate-limit window in
	// X-Bapi-Limit-Reset-Timestamp (ms) rather than Retry-After.
	var e *exchange.Error
	if errors.As(err, &e) && e.Kind == exchange.KindRateLimited && e.RetryAfter == 0 {
		e.RetryAfter = resetIn(headers, time.Now())
	}
	return err
}

// resetIn reads X-Bapi-Limit-Reset-Timestamp from ccxt's header map.
func resetIn(headers interface{}, now time.Time) time.Duration {
	m, _ := headers.(map[string]interface{})
	for k, v := range m {
		if !strings.EqualFold(k, "X-Bapi-Limit-Reset-Timestamp") {
			continue
		}
		s, _ := v.(string)
		if ms, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			if d := time.UnixMilli(ms).Sub(now); d > 0 {
				return d.Round(time.Millisecond)
			}
		}
	}
	return 0
}

// mgmt runs fn on a pooled client on the management credential.
func (a *Adapter) mgmt(ctx context.Context, fn func(ex *ccxt.Bybit) error) error {
	if err := ccxtutil.NeedManagement(Name, a.cfg); err != nil {
		return err
	}
	return a.with(ctx, ccxtutil.ForManagement, a.cfg.Management, "", fn)
}
