package okx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
)

// Sub-account API keys through the management credential:
//
//	GET  /api/v5/users/subaccount/apikey         PrivateGetUsersSubaccountApikey          (subAcct, apiKey?)
//	POST /api/v5/users/subaccount/apikey         PrivatePostUsersSubaccountApikey         (subAcct, label, passphrase, perm, ip)
//	POST /api/v5/users/subaccount/modify-apikey  PrivatePostUsersSubaccountModifyApikey   (subAcct, apiKey, label?, perm?, ip?)
//	POST /api/v5/users/subaccount/delete-apikey  PrivatePostUsersSubaccountDeleteApikey   (subAcct, apiKey)
//
// modify-apikey replaces each field it is given; ip="" would remove the
// whitelist, which SetIPWhitelist refuses to send.

// permissions reads OKX's perm list ("read_only,trade"). "trade" covers
// every instrument type, so it sets Futures too.
func permissions(perm string) exchange.Permissions {
	p := exchange.Permissions{Read: true}
	for _, w := range strings.Split(perm, ",") {
		switch strings.TrimSpace(w) {
		case "trade":
			p.Trade, p.Futures = true, true
		case "withdraw":
			p.Withdraw = true
		}
	}
	return p
}

// permParam renders the perm OKX can grant a sub-account key; withdrawal
// cannot be granted over the API (and would never be what containment asks).
func permParam(op string, p exchange.Permissions) (string, error) {
	if p.Withdraw {
		return "", &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: op,
			Message: "OKX cannot grant a sub-account key the withdraw right"}
	}
	if p.Trade || p.Futures {
		return "trade", nil
	}
	return "read_only", nil
}

func ipParam(op string, ips []string) (string, error) {
	ips = exchange.NormalizeIPs(ips)
	if len(ips) > MaxWhitelist {
		return "", &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: op,
			Message: "OKX binds at most 20 IP addresses to a key"}
	}
	return strings.Join(ips, ","), nil
}

func keyOf(m map[string]interface{}, sub string) exchange.Key {
	return exchange.Key{
		ID:          ccxtutil.Str(m, "apiKey"),
		Label:       ccxtutil.Str(m, "label"),
		SubAccount:  sub,
		Permissions: permissions(ccxtutil.Str(m, "perm")),
		IPWhitelist: exchange.NormalizeIPs(ccxtutil.Strings(m, "ip")),
		CreatedAt:   ccxtutil.Millis(ccxtutil.Int(m, "ts")),
	}
}

// ListKeys implements exchange.Exchange.
func (a *Adapter) ListKeys(ctx context.Context, subAccount string) ([]exchange.Key, error) {
	var res interface{}
	err := a.mgmt(ctx, func(ex *ccxt.Okx) error {
		var err error
		res, err = a.call(ctx, ex, "list_keys", ex.PrivateGetUsersSubaccountApikey(map[string]interface{}{"subAcct": subAccount}))
		return err
	})
	if err != nil {
		return nil, err
	}
	keys := []exchange.Key{}
	for _, m := range data(res) {
		keys = append(keys, keyOf(m, subAccount))
	}
	return keys, nil
}

// KeyInfo implements exchange.Exchange.
func (a *Adapter) KeyInfo(ctx context.Context, subAccount, keyID string) (exchange.Key, error) {
	var res interface{}
	err := a.mgmt(ctx, func(ex *ccxt.Okx) error {
		var err error
		res, err = a.call(ctx, ex, "key_info", ex.PrivateGetUsersSubaccountApikey(map[string]interface{}{
			"subAcct": subAccount, "apiKey": keyID}))
		return err
	})
	if err != nil {
		return exchange.Key{}, err
	}
	for _, m := range data(res) {
		if ccxtutil.Str(m, "apiKey") == keyID {
			return keyOf(m, subAccount), nil
		}
	}
	return exchange.Key{}, &exchange.Error{Kind: exchange.KindNotFound, Exchange: Name, Op: "key_info",
		Message: "no such key on sub-account " + subAccount}
}

// CreateKey implements exchange.Exchange. The passphrase is generated when
// the request has none (OKX requires 8–32 characters with a digit, upper and
// lower case letters and a special character) and returned in NewKey.
func (a *Adapter) CreateKey(ctx context.Context, req exchange.CreateKeyRequest) (exchange.NewKey, error) {
	perm, err := permParam("create_key", req.Permissions)
	if err != nil {
		return exchange.NewKey{}, err
	}
	ip, err := ipParam("create_key", req.IPWhitelist)
	if err != nil {
		return exchange.NewKey{}, err
	}
	if req.Label == "" {
		return exchange.NewKey{}, &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: "create_key",
			Message: "OKX keys need a label"}
	}
	pass := req.Passphrase
	if pass == "" {
		pass = NewPassphrase()
	}
	params := map[string]interface{}{"subAcct": req.SubAccount, "label": req.Label, "passphrase": pass, "perm": perm}
	if ip != "" {
		params["ip"] = ip
	}
	var res interface{}
	err = a.mgmt(ctx, func(ex *ccxt.Okx) error {
		var err error
		res, err = a.call(ctx, ex, "create_key", ex.PrivatePostUsersSubaccountApikey(params))
		return err
	})
	if err != nil {
		return exchange.NewKey{}, err
	}
	d := data(res)
	if len(d) == 0 || ccxtutil.Str(d[0], "apiKey") == "" || ccxtutil.Str(d[0], "secretKey") == "" {
		return exchange.NewKey{}, &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "create_key",
			Message: "OKX answered without the new key"}
	}
	k := keyOf(d[0], req.SubAccount)
	return exchange.NewKey{Key: k, Secret: ccxtutil.Str(d[0], "secretKey"), Passphrase: pass}, nil
}

// NewPassphrase returns a random passphrase meeting OKX's format rule.
func NewPassphrase() string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "Rk-" + hex.EncodeToString(b) + "9x"
}

// RevokeKey implements exchange.Exchange; an absent key is KindNotFound.
// Pooled clients on the key are dropped once it is gone.
func (a *Adapter) RevokeKey(ctx context.Context, subAccount, keyID string) error {
	err := a.mgmt(ctx, func(ex *ccxt.Okx) error {
		_, err := a.call(ctx, ex, "revoke_key", ex.PrivatePostUsersSubaccountDeleteApikey(map[string]interface{}{
			"subAcct": subAccount, "apiKey": keyID}))
		return err
	})
	if err == nil || exchange.IsNotFound(err) {
		a.pool.Evict(keyID)
	}
	return err
}

// SetPermissions implements exchange.Exchange (modify-apikey with perm only:
// label and whitelist stay as they are).
func (a *Adapter) SetPermissions(ctx context.Context, subAccount, keyID string, p exchange.Permissions) error {
	perm, err := permParam("set_permissions", p)
	if err != nil {
		return err
	}
	_, err = a.modify(ctx, "set_permissions", map[string]interface{}{"subAcct": subAccount, "apiKey": keyID, "perm": perm})
	return err
}

// SetIPWhitelist implements exchange.Exchange in one request, written
// first: modify-apikey's ip replaces the whole list (a set) and the answer
// carries the key as it now is, which is the verification. OKX does not
// report the previous list, so the change says PreviousKnown=false. An
// empty list is refused because ip="" would unbind the key from every
// address.
func (a *Adapter) SetIPWhitelist(ctx context.Context, subAccount, keyID string, ips []string) (exchange.WhitelistChange, error) {
	ch := exchange.WhitelistChange{Changed: true, Previous: []string{}}
	ip, err := ipParam("set_ip_whitelist", ips)
	if err != nil {
		return ch, err
	}
	if ip == "" {
		return ch, &exchange.Error{Kind: exchange.KindInvalid, Exchange: Name, Op: "set_ip_whitelist",
			Message: "refusing to remove the whitelist (OKX ip=\"\" unbinds the key)"}
	}
	res, err := a.modify(ctx, "set_ip_whitelist", map[string]interface{}{"subAcct": subAccount, "apiKey": keyID, "ip": ip})
	ch.Calls = 1
	if err != nil {
		return ch, err
	}
	d := data(res)
	if len(d) == 0 {
		return ch, &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "set_ip_whitelist",
			Message: "modify-apikey answered without the key"}
	}
	ch.Now = exchange.NormalizeIPs(ccxtutil.Strings(d[0], "ip"))
	if !exchange.SameIPs(ch.Now, ips) {
		return ch, &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "set_ip_whitelist",
			Message: "whitelist after update is " + strings.Join(ch.Now, ",") + ", want " + ip}
	}
	return ch, nil
}

func (a *Adapter) modify(ctx context.Context, op string, params map[string]interface{}) (interface{}, error) {
	var res interface{}
	err := a.mgmt(ctx, func(ex *ccxt.Okx) error {
		var err error
		res, err = a.call(ctx, ex, op, ex.PrivatePostUsersSubaccountModifyApikey(params))
		return err
	})
	return res, err
}
