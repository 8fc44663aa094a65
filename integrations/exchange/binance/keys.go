package binance

import (
	"context"
	"strings"

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
//	ip add      POST   /sapi/v2/sub-account/subAccountApi/ipRestriction   email, subAccountApiKey, status, ipAddress
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
	ex, err := a.mgmt(ctx)
	if err != nil {
		return nil, err
	}
	res, err := a.call(ctx, ex, "list_keys", "sub-account/subAccountApi", "sapi", "GET",
		map[string]interface{}{"email": sub})
	if err != nil {
		return nil, err
	}
	var out []exchange.Key
	for _, it := range ccxtutil.List(res) {
		if m := ccxtutil.Map(it); m != nil {
			out = append(out, parseKey(sub, m))
		}
	}
	return out, nil
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
	ex, err := a.mgmt(ctx)
	if err != nil {
		return exchange.NewKey{}, err
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
	res, err := a.call(ctx, ex, "create_key", "sub-account/subAccountApi", "sapiV2", "POST", params)
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

// RevokeKey implements exchange.Exchange.
func (a *Adapter) RevokeKey(ctx context.Context, sub, keyID string) error {
	ex, err := a.mgmt(ctx)
	if err != nil {
		return err
	}
	_, err = a.call(ctx, ex, "revoke_key", "sub-account/subAccountApi", "sapi", "DELETE",
		map[string]interface{}{"email": sub, "subAccountApiKey": keyID})
	return err
}

// SetPermissions implements exchange.Exchange.
func (a *Adapter) SetPermissions(ctx context.Context, sub, keyID string, p exchange.Permissions) error {
	ex, err := a.mgmt(ctx)
	if err != nil {
		return err
	}
	_, err = a.call(ctx, ex, "set_permissions", "sub-account/subAccountApiPermission", "sapi", "POST",
		map[string]interface{}{
			"email": sub, "subAccountApiKey": keyID,
			"canTrade": boolStr(p.Trade), "canMarginLoanRepay": "false",
			"canFuturesTrade": boolStr(p.Futures), "canUniversalTransfer": boolStr(p.Withdraw),
		})
	return err
}

func (a *Adapter) readWhitelist(ctx context.Context, sub, keyID string) ([]string, error) {
	ex, err := a.mgmt(ctx)
	if err != nil {
		return nil, err
	}
	res, err := a.call(ctx, ex, "get_ip_whitelist", "sub-account/subAccountApi/ipRestriction", "sapi", "GET",
		map[string]interface{}{"email": sub, "subAccountApiKey": keyID})
	if err != nil {
		return nil, err
	}
	return exchange.NormalizeIPs(ccxtutil.Strings(ccxtutil.Map(res), "ipList")), nil
}

// SetIPWhitelist implements exchange.Exchange. Binance only offers "add
// IPs" and "remove IPs", so a set is built from them: add the missing ones
// first, then remove the extra ones — never the other way round, because an
// empty list in between would mean "any IP".
func (a *Adapter) SetIPWhitelist(ctx context.Context, sub, keyID string, ips []string) error {
	want := exchange.NormalizeIPs(ips)
	if len(want) == 0 {
		return &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: "set_ip_whitelist",
			Message: "refusing to set an empty whitelist (that would allow any IP)"}
	}
	have, err := a.readWhitelist(ctx, sub, keyID)
	if err != nil {
		return err
	}
	haveSet, wantSet := set(have), set(want)
	var add, remove []string
	for _, ip := range want {
		if !haveSet[ip] {
			add = append(add, ip)
		}
	}
	for _, ip := range have {
		if !wantSet[ip] {
			remove = append(remove, ip)
		}
	}
	ex, err := a.mgmt(ctx)
	if err != nil {
		return err
	}
	if len(add) > 0 {
		if _, err := a.call(ctx, ex, "set_ip_whitelist", "sub-account/subAccountApi/ipRestriction", "sapiV2", "POST",
			map[string]interface{}{"email": sub, "subAccountApiKey": keyID, "status": "2",
				"ipAddress": strings.Join(add, ",")}); err != nil {
			return err
		}
	}
	if len(remove) > 0 {
		ex, err := a.mgmt(ctx)
		if err != nil {
			return err
		}
		if _, err := a.call(ctx, ex, "set_ip_whitelist", "sub-account/subAccountApi/ipRestriction/ipList", "sapi", "DELETE",
			map[string]interface{}{"email": sub, "subAccountApiKey": keyID,
				"ipAddress": strings.Join(remove, ",")}); err != nil {
			return err
		}
	}
	got, err := a.readWhitelist(ctx, sub, keyID)
	if err != nil {
		return err
	}
	if !exchange.SameIPs(got, want) {
		return &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "set_ip_whitelist",
			Message: "whitelist after update is " + strings.Join(got, ",") + ", want " + strings.Join(want, ",")}
	}
	return nil
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}
