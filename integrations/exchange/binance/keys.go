package binance

import (
	"context"
	"strings"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Sub-account API key management (main account's management credential):
//
//	list        GET    /sapi/v1/sub-account/subAccountApi                 email
//	create      POST   /sapi/v2/sub-account/subAccountApi                 email, apiName, status, ipAddress, canTrade, canFuturesTrade, canUniversalTransfer
//	delete      DELETE /sapi/v1/sub-account/subAccountApi                 email, subAccountApiKey
//	permission  POST   /sapi/v1/sub-account/subAccountApiPermission       email, subAccountApiKey, canTrade, canFuturesTrade, canUniversalTransfer
//	ip read     GET    /sapi/v1/sub-account/subAccountApi/ipRestriction   email, subAccountApiKey
//	ip add      POST   /sapi/v2/sub-account/subAccountApi/ipRestriction   email, subAccountApiKey, status, ipAddress (adds; answers the new list)
//	ip remove   DELETE /sapi/v1/sub-account/subAccountApi/ipRestriction/ipList
//
// Withdraw maps to canUniversalTransfer: a sub-account key cannot withdraw
// on-chain; universal transfer is its way to move funds out.

func parseKey(sub string, m map[string]interface{}) exchange.Key {
	return exchange.Key{
		ID:         ccxtutil.Str(m, "apiKey"),
		Label:      ccxtutil.Str(m, "apiName"),
		SubAccount: sub,
		Permissions: exchange.Permissions{
			Read:     true,
			Trade:    ccxtutil.Bool(m, "canTrade"),
			Futures:  ccxtutil.Bool(m, "canFuturesTrade"),
			Withdraw: ccxtutil.Bool(m, "canUniversalTransfer"),
		},
		IPWhitelist: exchange.NormalizeIPs(ccxtutil.Strings(m, "ipList")),
		CreatedAt:   ccxtutil.Millis(ccxtutil.Int(m, "createTime")),
	}
}

// ListKeys implements exchange.Exchange.
func (a *Adapter) ListKeys(ctx context.Context, sub string) ([]exchange.Key, error) {
	var out []exchange.Key
	err := a.mgmt(ctx, func(ex *ccxt.Binance) error {
		res, err := a.call(ctx, ex, "list_keys", "sub-account/subAccountApi", "sapi", "GET",
			map[string]interface{}{"email": sub})
		if err != nil {
			return err
		}
		for _, it := range ccxtutil.List(res) {
			if m := ccxtutil.Map(it); m != nil {
				out = append(out, parseKey(sub, m))
			}
		}
		return nil
	})
	return out, err
}

// KeyInfo implements exchange.Exchange.
func (a *Adapter) KeyInfo(ctx context.Context, sub, keyID string) (exchange.Key, error) {
	keys, err := a.ListKeys(ctx, sub)
	if err != nil {
		return exchange.Key{}, err
	}
	for _, k := range keys {
		if k.ID == keyID {
			return k, nil
		}
	}
	return exchange.Key{}, &exchange.Error{Kind: exchange.KindNotFound, Exchange: Name, Op: "key_info",
		Message: "no key " + keyID + " on sub-account " + sub}
}

// CreateKey implements exchange.Exchange.
func (a *Adapter) CreateKey(ctx context.Context, req exchange.CreateKeyRequest) (exchange.NewKey, error) {
	if req.SubAccount == "" || req.Label == "" {
		return exchange.NewKey{}, &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: "create_key",
			Message: "sub-account and label are required"}
	}
	ips := exchange.NormalizeIPs(req.IPWhitelist)
	params := map[string]interface{}{
		"email":                req.SubAccount,
		"apiName":              req.Label,
		"status":               "1",
		"canTrade":             boolStr(req.Permissions.Trade),
		"canMarginLoanRepay":   "false",
		"canFuturesTrade":      boolStr(req.Permissions.Futures),
		"canUniversalTransfer": boolStr(req.Permissions.Withdraw),
		"canVanillaOptions":    "false",
	}
	if len(ips) > 0 {
		params["status"] = "2"
		params["ipAddress"] = strings.Join(ips, ",")
	}
	var res interface{}
	err := a.mgmt(ctx, func(ex *ccxt.Binance) error {
		var err error
		res, err = a.call(ctx, ex, "create_key", "sub-account/subAccountApi", "sapiV2", "POST", params)
		return err
	})
	if err != nil {
		return exchange.NewKey{}, err
	}
	m := ccxtutil.Map(res)
	k := parseKey(req.SubAccount, m)
	secret := ccxtutil.Str(m, "secretKey")
	if k.ID == "" || secret == "" {
		return exchange.NewKey{}, &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "create_key",
			Message: "response carries no apiKey/secretKey"}
	}
	if k.Label == "" {
		k.Label = req.Label
	}
	return exchange.NewKey{Key: k, Secret: secret}, nil
}

// RevokeKey implements exchange.Exchange: one DELETE. Pooled clients on the
// key (a bot's cancel or verify clients) are dropped once it is gone.
func (a *Adapter) RevokeKey(ctx context.Context, sub, keyID string) error {
	err := a.mgmt(ctx, func(ex *ccxt.Binance) error {
		_, err := a.call(ctx, ex, "revoke_key", "sub-account/subAccountApi", "sapi", "DELETE",
			map[string]interface{}{"email": sub, "subAccountApiKey": keyID})
		return err
	})
	if err == nil || exchange.IsNotFound(err) {
		a.pool.Evict(keyID)
	}
	return err
}

// SetPermissions implements exchange.Exchange.
func (a *Adapter) SetPermissions(ctx context.Context, sub, keyID string, p exchange.Permissions) error {
	return a.mgmt(ctx, func(ex *ccxt.Binance) error {
		_, err := a.call(ctx, ex, "set_permissions", "sub-account/subAccountApiPermission", "sapi", "POST",
			map[string]interface{}{
				"email": sub, "subAccountApiKey": keyID,
				"canTrade": boolStr(p.Trade), "canMarginLoanRepay": "false",
				"canFuturesTrade": boolStr(p.Futures), "canUniversalTransfer": boolStr(p.Withdraw),
			})
		return err
	})
}

// ipList reads the whitelist from an ipRestriction answer; ok is false
// when the answer does not carry one.
func ipList(res interface{}) (ips []string, ok bool) {
	m := ccxtutil.Map(res)
	if _, ok := m["ipList"]; !ok {
		return nil, false
	}
	return exchange.NormalizeIPs(ccxtutil.Strings(m, "ipList")), true
}

// SetIPWhitelist implements exchange.Exchange, writing first. Binance
// offers "add IPs" (POST, status 2 = trusted IPs only) and "remove IPs",
// and answers both with the resulting list. So: add the wanted IPs — on a
// key that had no whitelist, the leaked key's usual state, this one request
// is the whole lockout — then remove whatever else the answer lists (the
// old extras, e.g. an attacker's address), never the other way round,
// because an empty list in between would mean "any IP". The last answer is
// the verification: a list other than the wanted one is an error. A
// repeat finds nothing extra and makes one request.
func (a *Adapter) SetIPWhitelist(ctx context.Context, sub, keyID string, ips []string) (exchange.WhitelistChange, error) {
	want := exchange.NormalizeIPs(ips)
	if len(want) == 0 {
		return exchange.WhitelistChange{}, &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: "set_ip_whitelist",
			Message: "refusing to set an empty whitelist (that would allow any IP)"}
	}
	ch := exchange.WhitelistChange{Changed: true, Previous: []string{}}
	err := a.mgmt(ctx, func(ex *ccxt.Binance) error {
		key := map[string]interface{}{"email": sub, "subAccountApiKey": keyID}
		res, err := a.call(ctx, ex, "set_ip_whitelist", "sub-account/subAccountApi/ipRestriction", "sapiV2", "POST",
			with(key, "status", "2", "ipAddress", strings.Join(want, ",")))
		ch.Calls++
		if err != nil {
			return err
		}
		got, ok := ipList(res)
		if !ok {
			if got, err = a.readWhitelist(ctx, ex, key); err != nil {
				return err
			}
			ch.Calls++
		}
		wantSet := set(want)
		for _, ip := range got {
			if !wantSet[ip] {
				ch.Previous = append(ch.Previous, ip)
			}
		}
		if len(ch.Previous) > 0 {
			res, err := a.call(ctx, ex, "set_ip_whitelist", "sub-account/subAccountApi/ipRestriction/ipList", "sapi", "DELETE",
				with(key, "ipAddress", strings.Join(ch.Previous, ",")))
			ch.Calls++
			if err != nil {
				return err
			}
			if got, ok = ipList(res); !ok {
				if got, err = a.readWhitelist(ctx, ex, key); err != nil {
					return err
				}
				ch.Calls++
			}
		}
		ch.Now = got
		if !exchange.SameIPs(got, want) {
			return &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "set_ip_whitelist",
				Message: "whitelist after update is " + strings.Join(got, ",") + ", want " + strings.Join(want, ",")}
		}
		return nil
	})
	return ch, err
}

func (a *Adapter) readWhitelist(ctx context.Context, ex *ccxt.Binance, key map[string]interface{}) ([]string, error) {
	res, err := a.call(ctx, ex, "get_ip_whitelist", "sub-account/subAccountApi/ipRestriction", "sapi", "GET", with(key))
	if err != nil {
		return nil, err
	}
	got, _ := ipList(res)
	return got, nil
}

// with returns a copy of m with the given key/value pairs added (ccxt
// consumes params maps, so each request gets its own).
func with(m map[string]interface{}, kv ...string) map[string]interface{} {
	out := make(map[string]interface{}, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}
