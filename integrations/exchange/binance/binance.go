// Package binance is the Binance adapter of integrations/exchange, built on
// ccxt. The management credential is a main-account key allowed to manage
// sub-account API keys; bots run on sub-accounts with their own keys.
//
// Import it (blank import is enough) to make exchange.Open("binance") work.
package binance

import (
	"context"
	"net/http"
	"strings"
	"time"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Name is the exchange id.
const Name = "binance"

func init() { exchange.Register(Name, Open) }

// Adapter implements exchange.Exchange for Binance.
type Adapter struct {
	cfg     exchange.Config
	timeout time.Duration
	pool    *ccxtutil.Pool[*ccxt.Binance]
}

var _ exchange.Exchange = (*Adapter)(nil)

// Open builds the adapter. It does not call the exchange.
func Open(cfg exchange.Config) (exchange.Exchange, error) {
	a := &Adapter{cfg: cfg, timeout: ccxtutil.Timeout(cfg.Options)}
	a.pool = ccxtutil.NewPool(Name, cfg, a.timeout, ccxtutil.Spec[*ccxt.Binance]{Build: a.build, Reset: reset})
	return a, nil
}

// Name implements exchange.Exchange.
func (a *Adapter) Name() string { return Name }

// Capabilities implements exchange.Exchange. Binance has no endpoint that
// deletes the main account's own key, and a key cannot delete itself.
func (a *Adapter) Capabilities() exchange.Capabilities {
	return exchange.Capabilities{ManageSubAccountKeys: true, SelfRevoke: false}
}

// Close implements exchange.Exchange: drops pooled clients and idle
// connections.
func (a *Adapter) Close() error {
	a.pool.Close()
	return nil
}

// ClientPool reports on the adapter's pool of built ccxt clients.
func (a *Adapter) ClientPool() ccxtutil.PoolStats { return a.pool }

// build makes a ccxt client on cred for the pool.
func (a *Adapter) build(cred exchange.Credential, hc *http.Client) (*ccxt.Binance, error) {
	conf := map[string]interface{}{
		"apiKey":          cred.APIKey,
		"secret":          cred.Secret,
		"enableRateLimit": false, // the workflow's retry policy paces us
		"options": map[string]interface{}{
			"fetchMarkets":                       map[string]interface{}{"types": []interface{}{"spot"}},
			"fetchCurrencies":                    false,
			"fetchMargins":                       false,
			"warnOnFetchOpenOrdersWithoutSymbol": false,
			"recvWindow":                         10000,
		},
	}
	if base := strings.TrimRight(a.cfg.BaseURL, "/"); base != "" {
		conf["urls"] = map[string]interface{}{"api": map[string]interface{}{
			"public":  base + "/api/v3",
			"private": base + "/api/v3",
			"v1":      base + "/api/v1",
			"sapi":    base + "/sapi/v1",
			"sapiV2":  base + "/sapi/v2",
			"sapiV3":  base + "/sapi/v3",
			"sapiV4":  base + "/sapi/v4",
		}}
	}
	ex := ccxt.NewBinance(conf)
	if err := ccxtutil.BindHTTP(Name, &ex.Exchange, hc); err != nil {
		return nil, err
	}
	return ex, nil
}

// reset undoes what a successful private call leaves on a ccxt Binance
// client: with hasAlreadyAuthenticatedSuccessfully set, ccxt raises -2015
// ("Invalid API-key, IP, or permissions") as DDoSProtection, assuming a
// temporary ban; a fresh client raises AuthenticationError. Resetting it on
// every lease keeps a reused client's errors those of a fresh one (and
// codeKinds maps -2015 to authentication either way).
func reset(ex *ccxt.Binance) {
	ccxt.AddElementToObject(ex.Options, "hasAlreadyAuthenticatedSuccessfully", false)
}

// with runs fn on a pooled client for cred.
func (a *Adapter) with(ctx context.Context, purpose string, cred exchange.Credential, localAddr string, fn func(ex *ccxt.Binance) error) error {
	return a.pool.Do(ctx, purpose, cred, localAddr, fn)
}

// codeKinds refines ccxt's classification with Binance codes it leaves as a
// generic ExchangeError.
var codeKinds = map[string]exchange.Kind{
	"-2015": exchange.KindAuthentication, // also raised for IP refusal
	"-2014": exchange.KindAuthentication,
	"-1022": exchange.KindAuthentication,
	"-1002": exchange.KindPermission,
	"-1003": exchange.KindRateLimited,
	"-1008": exchange.KindUnavailable,
	"-2011": exchange.KindNotFound,
	// Sub-account key management (see exchangesim/binancesim).
	"-12015": exchange.KindNotFound, // the key does not exist on this sub-account
	"-12010": exchange.KindInvalid,  // the sub-account does not exist: never "already revoked"
}

// call runs one raw endpoint through ccxt's generic Request (signing,
// error mapping) and classifies its error.
func (a *Adapter) call(ctx context.Context, ex *ccxt.Binance, op, path, api, method string, params map[string]interface{}) (interface{}, error) {
	res, err := ccxtutil.Await(ctx, ex.Request(path, api, method, params))
	if err != nil {
		return nil, a.classify(op, ex, err)
	}
	return res, nil
}

func (a *Adapter) classify(op string, ex *ccxt.Binance, err error) error {
	var headers interface{}
	if ex != nil {
		headers = ex.LastResponseHeaders
	}
	return ccxtutil.Classify(Name, op, err, headers, codeKinds)
}

// mgmt runs fn on a pooled client on the management credential.
func (a *Adapter) mgmt(ctx context.Context, fn func(ex *ccxt.Binance) error) error {
	if err := ccxtutil.NeedManagement(Name, a.cfg); err != nil {
		return err
	}
	return a.with(ctx, ccxtutil.ForManagement, a.cfg.Management, "", fn)
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
