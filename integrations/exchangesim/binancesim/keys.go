package binancesim

import (
	"errors"
	"net/http"
	"strings"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// Sub-account API keys, driven by the main account's management key.
// Permission mapping: canTrade ↔ Trade, canFuturesTrade ↔ Futures,
// canUniversalTransfer ↔ Withdraw (a sub-account key's only way to move
// funds out).

func (sv *server) subAccount(w http.ResponseWriter, r *http.Request, sr signedRequest) (exchangesim.Account, bool) {
	email := sr.params.Get("email")
	if email == "" {
		apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'email' was not sent, was empty/null, or malformed.")
		return exchangesim.Account{}, false
	}
	acc, err := sv.sim.ManagedSubAccount(sr.key, email)
	switch {
	case errors.Is(err, exchangesim.ErrNotPermitted):
		apiError(w, r, 401, CodeUnauthorized, "You are not authorized to execute this request.")
		return acc, false
	case err != nil:
		apiError(w, r, 400, CodeNoSubAccount, "Sub-account does not exist.")
		return acc, false
	}
	return acc, true
}

func (sv *server) subKey(w http.ResponseWriter, r *http.Request, sr signedRequest) (exchangesim.Account, exchangesim.Key, bool) {
	acc, ok := sv.subAccount(w, r, sr)
	if !ok {
		return acc, exchangesim.Key{}, false
	}
	id := sr.params.Get("subAccountApiKey")
	if id == "" {
		apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'subAccountApiKey' was not sent, was empty/null, or malformed.")
		return acc, exchangesim.Key{}, false
	}
	k, err := sv.sim.KeyOfSubAccount(Name, acc, id)
	if err != nil {
		apiError(w, r, 400, CodeNoSubKey, "Sub-account apiKey not found.")
		return acc, k, false
	}
	return acc, k, true
}

func keyJSON(k exchangesim.Key) map[string]any {
	status := 1
	if len(k.IPs) > 0 {
		status = 2
	}
	ips := k.IPs
	if ips == nil {
		ips = []string{}
	}
	return map[string]any{
		"apiName":              k.Label,
		"apiKey":               k.ID,
		"canTrade":             k.Perms.Trade,
		"canMarginLoanRepay":   false,
		"canFuturesTrade":      k.Perms.Futures,
		"canUniversalTransfer": k.Perms.Withdraw,
		"canVanillaOptions":    false,
		"status":               status,
		"ipList":               ips,
		"createTime":           k.CreatedAt.UnixMilli(),
	}
}

func splitIPs(s string) []string {
	var out []string
	for _, ip := range strings.Split(s, ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			out = append(out, ip)
		}
	}
	return out
}

func (sv *server) listSubKeys(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	acc, ok := sv.subAccount(w, r, sr)
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, k := range sv.sim.Keys(Name, acc.ID, false) {
		out = append(out, keyJSON(k))
	}
	exchangesim.WriteJSON(w, 200, map[string]any{"subAccountApis": out})
}

func (sv *server) createSubKey(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	acc, ok := sv.subAccount(w, r, sr)
	if !ok {
		return
	}
	p := sr.params
	name := p.Get("apiName")
	if name == "" {
		apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'apiName' was not sent, was empty/null, or malformed.")
		return
	}
	var ips []string
	switch p.Get("status") {
	case "1":
	case "2":
		ips = splitIPs(p.Get("ipAddress"))
		if len(ips) == 0 {
			apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'ipAddress' was not sent, was empty/null, or malformed.")
			return
		}
	default:
		apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'status' was not sent, was empty/null, or malformed.")
		return
	}
	k, err := sv.sim.CreateKey(exchangesim.KeySpec{Exchange: Name, Account: acc.ID, Label: name, IPs: ips,
		Perms: exchangesim.Perms{Read: true, Trade: boolParam(p, "canTrade"), Futures: boolParam(p, "canFuturesTrade"),
			Withdraw: boolParam(p, "canUniversalTransfer")}})
	if err != nil {
		apiError(w, r, 400, CodeNoSubAccount, "Sub-account does not exist.")
		return
	}
	exchangesim.CallOf(r).Result = "created key " + k.ID + " label " + k.Label
	out := keyJSON(k)
	out["secretKey"] = k.Secret
	delete(out, "createTime")
	exchangesim.WriteJSON(w, 200, out)
}

func (sv *server) deleteSubKey(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	_, k, ok := sv.subKey(w, r, sr)
	if !ok {
		return
	}
	if err := sv.sim.RevokeKey(Name, k.ID); err != nil {
		apiError(w, r, 400, CodeNoSubKey, "Sub-account apiKey not found.")
		return
	}
	exchangesim.CallOf(r).Result = "revoked key " + k.ID
	exchangesim.WriteJSON(w, 200, map[string]any{})
}

func (sv *server) setSubKeyPermission(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	_, k, ok := sv.subKey(w, r, sr)
	if !ok {
		return
	}
	p := sr.params
	k, err := sv.sim.UpdateKey(Name, k.ID, func(k *exchangesim.Key) error {
		k.Perms.Trade = boolParam(p, "canTrade")
		k.Perms.Futures = boolParam(p, "canFuturesTrade")
		k.Perms.Withdraw = boolParam(p, "canUniversalTransfer")
		return nil
	})
	if err != nil {
		apiError(w, r, 400, CodeNoSubKey, "Sub-account apiKey not found.")
		return
	}
	exchangesim.CallOf(r).Result = "permissions of " + k.ID
	exchangesim.WriteJSON(w, 200, keyJSON(k))
}

func ipRestrictionJSON(k exchangesim.Key, now int64) map[string]any {
	ips := k.IPs
	if ips == nil {
		ips = []string{}
	}
	restricted := "false"
	if len(ips) > 0 {
		restricted = "true"
	}
	return map[string]any{"ipRestrict": restricted, "ipList": ips, "updateTime": now, "apiKey": k.ID}
}

func (sv *server) getIPRestriction(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	_, k, ok := sv.subKey(w, r, sr)
	if !ok {
		return
	}
	exchangesim.WriteJSON(w, 200, ipRestrictionJSON(k, sv.sim.Now().UnixMilli()))
}

// addIPRestriction is Binance's "add IP restriction": status 2 inserts the
// given IPs into the list (an append on the wire — the adapter makes "set"
// out of add + delete), status 1 lifts the restriction.
func (sv *server) addIPRestriction(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	_, k, ok := sv.subKey(w, r, sr)
	if !ok {
		return
	}
	p := sr.params
	add := splitIPs(p.Get("ipAddress"))
	status := p.Get("status")
	if status != "1" && status != "2" || status == "2" && len(add) == 0 && len(k.IPs) == 0 {
		apiError(w, r, 400, CodeMandatory, "Mandatory parameter 'status' or 'ipAddress' was not sent, was empty/null, or malformed.")
		return
	}
	k, err := sv.sim.UpdateKey(Name, k.ID, func(k *exchangesim.Key) error {
		if status == "1" {
			k.IPs = nil
			return nil
		}
		for _, ip := range add {
			if !k.AllowsIP(ip) || len(k.IPs) == 0 {
				k.IPs = append(k.IPs, ip)
			}
		}
		return nil
	})
	if err != nil {
		apiError(w, r, 400, CodeNoSubKey, "Sub-account apiKey not found.")
		return
	}
	exchangesim.CallOf(r).Result = "ip whitelist of " + k.ID + ": " + strings.Join(k.IPs, ",")
	out := ipRestrictionJSON(k, sv.sim.Now().UnixMilli())
	out["status"] = status
	exchangesim.WriteJSON(w, 200, out)
}

func (sv *server) deleteIPList(w http.ResponseWriter, r *http.Request, sr signedRequest) {
	_, k, ok := sv.subKey(w, r, sr)
	if !ok {
		return
	}
	drop := map[string]bool{}
	for _, ip := range splitIPs(sr.params.Get("ipAddress")) {
		drop[ip] = true
	}
	k, err := sv.sim.UpdateKey(Name, k.ID, func(k *exchangesim.Key) error {
		var keep []string
		for _, ip := range k.IPs {
			if !drop[ip] {
				keep = append(keep, ip)
			}
		}
		k.IPs = keep
		return nil
	})
	if err != nil {
		apiError(w, r, 400, CodeNoSubKey, "Sub-account apiKey not found.")
		return
	}
	exchangesim.CallOf(r).Result = "ip whitelist of " + k.ID + ": " + strings.Join(k.IPs, ",")
	exchangesim.WriteJSON(w, 200, ipRestrictionJSON(k, sv.sim.Now().UnixMilli()))
}
