// Package okx is the OKX (API v5) adapter of integrations/exchange, built on
// ccxt.
//
// The management credential is a main-account API key with the "trade"
// right that OKX requires for the sub-account API-key endpoints (create,
// modify, delete), bound to the engine's IP addresses (OKX refuses those
// endpoints with 50035 for a key without IP binding), plus its passphrase.
// It never needs "withdraw". Bots run on sub-accounts with their own keys.
//
// What a bot key gets: perm "trade" (OKX cannot grant a sub-account key
// withdrawal at all), an IP whitelist of at most 20 addresses, and a label
// naming the incident and step. OKX's "trade" right covers every instrument
// type; whether the bot can trade derivatives is the sub-account's account
// mode (acctLv 1, "Spot mode", trades spot only), which VerifyKey reads.
//
// Manual fallback (no management credential, or a main-account key leaked):
// in the OKX web UI, Profile → API → delete the key (or the sub-account's
// key under Sub-accounts → API management); then VerifyKey with the old key
// must report Authenticated=false (50119 "API key doesn't exist").
//
// Import it (blank import is enough) to make exchange.Open("okx") work.
package okx

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
const Name = "okx"

// MaxWhitelist is how many IP addresses one OKX key may be bound to.
const MaxWhitelist = 20

func init() { exchange.Register(Name, Open) }

// Adapter implements exchange.Exchange for OKX.
type Adapter struct {
	cfg     exchange.Config
	timeout time.Duration
	pool    *ccxtutil.Pool[*ccxt.Okx]
}

var (
	_ exchange.Exchange       = (*Adapter)(nil)
	_ exchange.TraderProvider = (*Adapter)(nil)
)

// Open builds the adapter. It does not call the exchange.
func Open(cfg exchange.Config) (exchange.Exchange, error) {
	a := &Adapter{cfg: cfg, timeout: ccxtutil.Timeout(cfg.Options)}
	a.pool = ccxtutil.NewPool(Name, cfg, a.timeout, ccxtutil.Spec[*ccxt.Okx]{Build: a.build})
	return a, nil
}

// Name implements exchange.Exchange.
func (a *Adapter) Name() string { return Name }

// Capabilities implements exchange.Exchange. An OKX key cannot delete
// itself; sub-account keys are managed by the main account's key.
func (a *Adapter) Capabilities() exchange.Capabilities {
	return exchange.Capabilities{ManageSubAccountKeys: true, SelfRevoke: false, MaxWhitelist: MaxWhitelist}
}

// Close implements exchange.Exchange: drops pooled clients and idle
// connections.
func (a *Adapter) Close() error {
	a.pool.Close()
	return nil
}

// ClientPool reports on the adapter's pool of built ccxt clients.
func (a *Adapter) ClientPool() ccxtutil.PoolStats { return a.pool }

// build makes a ccxt client on cred for the pool. ccxt's OKX client keeps
// no option that changes error semantics after a success (no Spec.Reset).
func (a *Adapter) build(cred exchange.Credential, hc *http.Client) (*ccxt.Okx, error) {
	conf := map[string]interface{}{
		"apiKey":          cred.APIKey,
		"secret":          cred.Secret,
		"password":        cred.Passphrase,
		"enableRateLimit": false, // the workflow's retry policy paces us
		// fetchCurrencies is a private call on OKX whose failure ccxt
		// swallows into a broken currency table; markets are enough for the
		// currency codes we use.
		"has": map[string]interface{}{"fetchCurrencies": false},
		"options": map[string]interface{}{
			"fetchMarkets": map[string]interface{}{"types": []interface{}{"spot"}},
			"defaultType":  "spot",
		},
	}
	if base := strings.TrimRight(a.cfg.BaseURL, "/"); base != "" {
		// ccxt signs "/api/v5/…", the path after this base, so a prefix
		// such as the simulator's /okx stays out of the signature.
		conf["urls"] = map[string]interface{}{"api": map[string]interface{}{"rest": base}}
	}
	ex := ccxt.NewOkx(conf)
	if err := ccxtutil.BindHTTP(Name, &ex.Exchange, hc); err != nil {
		return nil, err
	}
	return ex, nil
}

// with runs fn on a pooled client for cred.
func (a *Adapter) with(ctx context.Context, purpose string, cred exchange.Credential, localAddr string, fn func(ex *ccxt.Okx) error) error {
	return a.pool.Do(ctx, purpose, cred, localAddr, fn)
}

// codeKinds refines ccxt's classification with OKX codes it leaves as a
// generic ExchangeError (or maps too coarsely).
var codeKinds = map[string]exchange.Kind{
	"50119": exchange.KindAuthentication, // API key doesn't exist: unknown or deleted
	"50111": exchange.KindAuthentication,
	"50113": exchange.KindAuthentication,
	"50105": exchange.KindAuthentication,
	"50110": exchange.KindPermission, // IP not on the key's whitelist
	"50120": exchange.KindPermission, // the key lacks the right
	"50030": exchange.KindPermission,
	"50035": exchange.KindPermission, // endpoint needs an IP-bound key
	"59500": exchange.KindPermission, // only a main-account key may do this
	"59504": exchange.KindPermission, // sub-accounts cannot withdraw
	"50011": exchange.KindRateLimited,
	"50061": exchange.KindRateLimited,
	"50001": exchange.KindUnavailable,
	"50013": exchange.KindUnavailable, // Systems are busy (HTTP 429, not a quota)
	"50026": exchange.KindUnavailable,
	"59506": exchange.KindNotFound, // API key doesn't exist (on this sub-account)
	"51400": exchange.KindNotFound, // order already gone
	"59510": exchange.KindInvalid,  // sub-account does not exist: never "already revoked"
	"59502": exchange.KindInvalid,  // duplicate label: look the key up instead
	"59503": exchange.KindInvalid,  // more than 20 IPs
	"59505": exchange.KindInvalid,  // passphrase format
}

// call runs one implicit endpoint method and classifies its error.
func (a *Adapter) call(ctx context.Context, ex *ccxt.Okx, op string, ch <-chan interface{}) (interface{}, error) {
	res, err := ccxtutil.Await(ctx, ch)
	if err != nil {
		return nil, a.classify(op, ex, err)
	}
	return res, nil
}

// data is the "data" list of OKX's envelope.
func data(res interface{}) []map[string]interface{} {
	var out []map[string]interface{}
	for _, x := range ccxtutil.List(ccxtutil.Map(res)["data"]) {
		if m := ccxtutil.Map(x); m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (a *Adapter) classify(op string, ex *ccxt.Okx, err error) error {
	var headers interface{}
	if ex != nil {
		headers = ex.LastResponseHeaders
	}
	return ccxtutil.Classify(Name, op, err, headers, codeKinds)
}

// mgmt runs fn on a pooled client on the management credential.
func (a *Adapter) mgmt(ctx context.Context, fn func(ex *ccxt.Okx) error) error {
	if err := ccxtutil.NeedManagement(Name, a.cfg); err != nil {
		return err
	}
	if a.cfg.Management.Passphrase == "" {
		return &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: "management",
			Message: "the OKX management credential has no passphrase"}
	}
	return a.with(ctx, ccxtutil.ForManagement, a.cfg.Management, "", fn)
}
