package bybit

import (
	"context"
	"strconv"
	"strings"
	"time"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Sub-account API keys through the management credential:
//
//	GET  /v5/user/sub-apikeys     PrivateGetV5UserSubApikeys     (subMemberId, cursor)
//	POST /v5/user/create-sub-api  PrivatePostV5UserCreateSubApi  (subuid, note, readOnly 0|1, ips "a,b", permissions)
//	POST /v5/user/update-sub-api  PrivatePostV5UserUpdateSubApi  (apikey, readOnly, ips, permissions)
//	POST /v5/user/delete-sub-api  PrivatePostV5UserDeleteSubApi  (apikey)
//
// update-sub-api's documented defaults are dangerous: readOnly absent means
// 0 (read and write) and ips absent means "no binding". So every update
// sends readOnly and ips explicitly, read from the key first; permissions
// absent means unchanged, so a whitelist change leaves them out.

// listPages bounds sub-apikeys pagination (20 keys a page).
const listPages = 20

// permissionsOf reads Bybit's permission groups. readOnly wins over the
// groups; any Wallet permission (transfer or withdrawal) means funds can
// leave, which is what Withdraw stands for.
func permissionsOf(m map[string]interface{}) exchange.Permissions {
	p := exchange.Permissions{Read: true}
	if ccxtutil.Bool(m, "readOnly") {
		return p
	}
	groups := ccxtutil.Map(m["permissions"])
	for _, s := range ccxtutil.Strings(groups, "Spot") {
		if s == "SpotTrade" {
			p.Trade = true
		}
	}
	p.Futures = len(ccxtutil.Strings(groups, "ContractTrade")) > 0 || len(ccxtutil.Strings(groups, "Options")) > 0
	p.Withdraw = len(ccxtutil.Strings(groups, "Wallet")) > 0
	return p
}

// permissionsParam renders permissions for a sub-account key, with the
// readOnly flag. Bybit wants at least one group even for a read-only key.
func permissionsParam(p exchange.Permissions) (map[string]interface{}, int) {
	groups := map[string]interface{}{}
	if p.Trade {
		groups["Spot"] = []interface{}{"SpotTrade"}
	}
	if p.Futures {
		groups["ContractTrade"] = []interface{}{"Order", "Position"}
	}
	if p.Withdraw {
		groups["Wallet"] = []interface{}{"AccountTransfer", "SubMemberTransferList"}
	}
	if len(groups) == 0 {
		return map[string]interface{}{"Spot": []interface{}{"SpotTrade"}}, 1
	}
	return groups, 0
}

// whitelist reads ips; ["*"] means no binding.
func whitelist(m map[string]interface{}) []string {
	var out []string
	for _, ip := range ccxtutil.Strings(m, "ips") {
		if ip != "*" {
			out = append(out, ip)
		}
	}
	return exchange.NormalizeIPs(out)
}

func ipsParam(ips []string) string {
	ips = exchange.NormalizeIPs(ips)
	if len(ips) == 0 {
		return "*"
	}
	return strings.Join(ips, ",")
}

func keyOf(m map[string]interface{}, sub string) exchange.Key {
	k := exchange.Key{
		ID:          ccxtutil.Str(m, "apiKey"),
		Label:       ccxtutil.Str(m, "note"),
		SubAccount:  sub,
		Permissions: permissionsOf(m),
		IPWhitelist: whitelist(m),
	}
	if t, err := time.Parse(time.RFC3339, ccxtutil.Str(m, "createdAt")); err == nil {
		k.CreatedAt = t.UTC()
	}
	return k
}

func subUID(op, sub string) (int64, error) {
	uid, err := strconv.ParseInt(sub, 10, 64)
	if err != nil || uid <= 0 {
		return 0, &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: op,
			Message: "a Bybit sub-account is named by its numeric UID, not " + strconv.Quote(sub)}
	}
	return uid, nil
}

// ListKeys implements exchange.Exchange; sub is the sub-account's UID.
func (a *Adapter) ListKeys(ctx context.Context, subAccount string) ([]exchange.Key, error) {
	var raw []map[string]interface{}
	err := a.mgmtFor(ctx, "list_keys", subAccount, func(ex *ccxt.Bybit) error {
		var err error
		raw, err = a.listRaw(ctx, ex, "list_keys", subAccount)
		return err
	})
	if err != nil {
		return nil, err
	}
	keys := []exchange.Key{}
	for _, m := range raw {
		keys = append(keys, keyOf(m, subAccount))
	}
	return keys, nil
}

// mgmtFor checks the sub-account's name before leasing a management client.
func (a *Adapter) mgmtFor(ctx context.Context, op, subAccount string, fn func(ex *ccxt.Bybit) error) error {
	if _, err := subUID(op, subAccount); err != nil {
		return err
	}
	return a.mgmt(ctx, fn)
}

// listRaw returns the sub-account's keys as Bybit reports them.
func (a *Adapter) listRaw(ctx context.Context, ex *ccxt.Bybit, op, subAccount string) ([]map[string]interface{}, error) {
	var out []map[string]interface{}
	cursor := ""
	for page := 0; page < listPages; page++ {
		params := map[string]interface{}{"subMemberId": subAccount}
		if cursor != "" {
			params["cursor"] = cursor
		}
		res, err := a.call(ctx, ex, op, ex.PrivateGetV5UserSubApikeys(params))
		if err != nil {
			return nil, err
		}
		for _, x := range ccxtutil.List(res["result"]) {
			if m := ccxtutil.Map(x); m != nil {
				out = append(out, m)
			}
		}
		if cursor = ccxtutil.Str(res, "nextPageCursor"); cursor == "" {
			break
		}
	}
	return out, nil
}

// KeyInfo implements exchange.Exchange.
func (a *Adapter) KeyInfo(ctx context.Context, subAccount, keyID string) (exchange.Key, error) {
	var k exchange.Key
	err := a.mgmtFor(ctx, "key_info", subAccount, func(ex *ccxt.Bybit) error {
		m, err := a.rawKey(ctx, ex, "key_info", subAccount, keyID)
		if err == nil {
			k = keyOf(m, subAccount)
		}
		return err
	})
	return k, err
}

func (a *Adapter) rawKey(ctx context.Context, ex *ccxt.Bybit, op, subAccount, keyID string) (map[string]interface{}, error) {
	raw, err := a.listRaw(ctx, ex, op, subAccount)
	if err != nil {
		return nil, err
	}
	for _, m := range raw {
		if ccxtutil.Str(m, "apiKey") == keyID {
			return m, nil
		}
	}
	return nil, &exchange.Error{Kind: exchange.KindNotFound, Exchange: Name, Op: op,
		Message: "no such key on sub-account " + subAccount}
}

// CreateKey implements exchange.Exchange.
func (a *Adapter) CreateKey(ctx context.Context, req exchange.CreateKeyRequest) (exchange.NewKey, error) {
	uid, err := subUID("create_key", req.SubAccount)
	if err != nil {
		return exchange.NewKey{}, err
	}
	groups, ro := permissionsParam(req.Permissions)
	params := map[string]interface{}{"subuid": uid, "note": req.Label, "readOnly": ro, "permissions": groups}
	if len(exchange.NormalizeIPs(req.IPWhitelist)) > 0 {
		params["ips"] = ipsParam(req.IPWhitelist)
	}
	var res map[string]interface{}
	err = a.mgmt(ctx, func(ex *ccxt.Bybit) error {
		var err error
		res, err = a.call(ctx, ex, "create_key", ex.PrivatePostV5UserCreateSubApi(params))
		return err
	})
	if err != nil {
		return exchange.NewKey{}, err
	}
	if ccxtutil.Str(res, "apiKey") == "" || ccxtutil.Str(res, "secret") == "" {
		return exchange.NewKey{}, &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "create_key",
			Message: "Bybit answered without the new key"}
	}
	k := keyOf(res, req.SubAccount)
	// create-sub-api does not echo ips: report what was asked for.
	k.IPWhitelist = exchange.NormalizeIPs(req.IPWhitelist)
	k.CreatedAt = time.Now().UTC()
	return exchange.NewKey{Key: k, Secret: ccxtutil.Str(res, "secret")}, nil
}

// RevokeKey implements exchange.Exchange. Bybit has no documented error
// code for an unknown sub API key, so absence is established by listing
// the sub-account's keys first (KindNotFound), which also makes a retry
// after a lost answer come out right: two requests on one leased client.
// Pooled clients on the key are dropped once it is gone.
func (a *Adapter) RevokeKey(ctx context.Context, subAccount, keyID string) error {
	err := a.mgmtFor(ctx, "revoke_key", subAccount, func(ex *ccxt.Bybit) error {
		if _, err := a.rawKey(ctx, ex, "revoke_key", subAccount, keyID); err != nil {
			return err
		}
		_, err := a.call(ctx, ex, "revoke_key", ex.PrivatePostV5UserDeleteSubApi(map[string]interface{}{"apikey": keyID}))
		return err
	})
	if err == nil || exchange.IsNotFound(err) {
		a.pool.Evict(keyID)
	}
	return err
}

// SetPermissions implements exchange.Exchange. The key's current whitelist
// is sent along, since update-sub-api unbinds a key whose ips are left out.
func (a *Adapter) SetPermissions(ctx context.Context, subAccount, keyID string, p exchange.Permissions) error {
	return a.mgmtFor(ctx, "set_permissions", subAccount, func(ex *ccxt.Bybit) error {
		m, err := a.rawKey(ctx, ex, "set_permissions", subAccount, keyID)
		if err != nil {
			return err
		}
		groups, ro := permissionsParam(p)
		_, err = a.call(ctx, ex, "set_permissions", ex.PrivatePostV5UserUpdateSubApi(map[string]interface{}{
			"apikey": keyID, "readOnly": ro, "ips": ipsParam(whitelist(m)), "permissions": groups}))
		return err
	})
}

// SetIPWhitelist implements exchange.Exchange: ips replaces the whole list
// (a set). Bybit cannot write first: update-sub-api without readOnly makes
// the key read-write, so the key is read (which also gives the previous
// list exactly) and readOnly sent as it is; permissions are left out
// (unchanged). Both requests share one leased client; the update's answer
// carries the key's ips, which is the verification. A key already bound to
// exactly ips is left alone. An empty list is refused: it would unbind the
// key from every address.
func (a *Adapter) SetIPWhitelist(ctx context.Context, subAccount, keyID string, ips []string) (exchange.WhitelistChange, error) {
	want := exchange.NormalizeIPs(ips)
	ch := exchange.WhitelistChange{PreviousKnown: true, Previous: []string{}}
	if len(want) == 0 {
		return ch, &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: "set_ip_whitelist",
			Message: "refusing to remove the whitelist (Bybit ips=\"*\" unbinds the key)"}
	}
	err := a.mgmtFor(ctx, "set_ip_whitelist", subAccount, func(ex *ccxt.Bybit) error {
		m, err := a.rawKey(ctx, ex, "set_ip_whitelist", subAccount, keyID)
		ch.Calls++
		if err != nil {
			return err
		}
		ch.Previous = append(ch.Previous, whitelist(m)...)
		if exchange.SameIPs(ch.Previous, want) {
			ch.Now = want
			return nil
		}
		ch.Changed = true
		ro := 0
		if ccxtutil.Bool(m, "readOnly") {
			ro = 1
		}
		res, err := a.call(ctx, ex, "set_ip_whitelist", ex.PrivatePostV5UserUpdateSubApi(map[string]interface{}{
			"apikey": keyID, "readOnly": ro, "ips": ipsParam(want)}))
		ch.Calls++
		if err != nil {
			return err
		}
		ch.Now = whitelist(res)
		if !exchange.SameIPs(ch.Now, want) {
			return &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "set_ip_whitelist",
				Message: "whitelist after update is " + strings.Join(ch.Now, ",") + ", want " + strings.Join(want, ",")}
		}
		return nil
	})
	return ch, err
}
