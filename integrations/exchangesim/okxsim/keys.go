package okxsim

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"unicode"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// OKX's key vocabulary: perm is a comma list of read_only, trade and
// withdraw; a sub-account key can only be given read_only or trade over the
// API. "trade" covers every instrument type (OKX has no separate derivatives
// right on a key), so it maps to Trade and Futures together.

// permString renders a key's rights as OKX reports them.
func permString(p exchangesim.Perms) string {
	s := []string{"read_only"}
	if p.Trade || p.Futures {
		s = append(s, "trade")
	}
	if p.Withdraw {
		s = append(s, "withdraw")
	}
	return strings.Join(s, ",")
}

// parsePerm reads a perm parameter; ok=false for an unknown word or a right
// a sub-account key cannot have.
func parsePerm(s string) (exchangesim.Perms, bool) {
	p := exchangesim.Perms{Read: true}
	for _, w := range strings.Split(s, ",") {
		switch strings.TrimSpace(w) {
		case "read_only", "":
		case "trade":
			p.Trade, p.Futures = true, true
		default:
			return p, false
		}
	}
	return p, true
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

func keyJSON(k exchangesim.Key, sub exchangesim.Account) map[string]any {
	return map[string]any{
		"subAcct": sub.Name,
		"label":   k.Label,
		"apiKey":  k.ID,
		"perm":    permString(k.Perms),
		"ip":      strings.Join(k.IPs, ","),
		"ts":      ms(k.CreatedAt),
	}
}

// validPassphrase is OKX's rule: 8–32 characters with a digit, an upper and
// a lower case letter and a special character.
func validPassphrase(s string) bool {
	if len(s) < 8 || len(s) > 32 {
		return false
	}
	var d, u, l, x bool
	for _, c := range s {
		switch {
		case unicode.IsDigit(c):
			d = true
		case unicode.IsUpper(c):
			u = true
		case unicode.IsLower(c):
			l = true
		default:
			x = true
		}
	}
	return d && u && l && x
}

// mainKey checks that the calling key may manage sub-account keys: it must
// belong to a main account and hold the management right, and for changes
// (mutating=true) it must be bound to IP addresses, as OKX demands.
func (sv *server) mainKey(w http.ResponseWriter, r *http.Request, rq request, mutating bool) bool {
	acc, found := sv.sim.Account(rq.key.Account)
	if !found || acc.Parent != "" {
		apiError(w, r, 200, CodeMainKeyOnly, "Only the API key of the main account has permission.")
		return false
	}
	if !rq.key.Perms.ManageKeys {
		apiError(w, r, 200, CodeNoPermission, "This API key doesn't have permission to use this function")
		return false
	}
	if mutating && len(rq.key.IPs) == 0 {
		apiError(w, r, 403, CodeNeedIPBinding, "This endpoint requires that APIKey must be bound to IP")
		return false
	}
	return true
}

// subAccount resolves the subAcct parameter for the management key.
func (sv *server) subAccount(w http.ResponseWriter, r *http.Request, rq request, name string) (exchangesim.Account, bool) {
	if name == "" {
		apiError(w, r, 400, CodeParamEmpty, "Parameter subAcct can not be empty.")
		return exchangesim.Account{}, false
	}
	acc, err := sv.sim.ManagedSubAccount(rq.key, name)
	switch {
	case errors.Is(err, exchangesim.ErrNotPermitted):
		apiError(w, r, 200, CodeNoPermission, "This API key doesn't have permission to use this function")
		return acc, false
	case err != nil:
		apiError(w, r, 200, CodeNoSubAccount, "Sub-account does not exist")
		return acc, false
	}
	return acc, true
}

func (sv *server) listSubAccounts(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.mainKey(w, r, rq, false) {
		return
	}
	var out []map[string]any
	for _, a := range sv.sim.Accounts(Name) {
		if a.Parent != rq.key.Account {
			continue
		}
		out = append(out, map[string]any{"type": "1", "enable": true, "subAcct": a.Name, "uid": a.UID,
			"label": a.Name, "canTransOut": true, "subAcctLv": "1", "firstLvSubAcct": a.Name})
	}
	ok(w, out)
}

// queryKeys is GET /api/v5/users/subaccount/apikey: every live key of the
// sub-account, or the one named by apiKey.
func (sv *server) queryKeys(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.mainKey(w, r, rq, false) {
		return
	}
	q := r.URL.Query()
	sub, found := sv.subAccount(w, r, rq, q.Get("subAcct"))
	if !found {
		return
	}
	var out []map[string]any
	if id := q.Get("apiKey"); id != "" {
		k, err := sv.sim.KeyOfSubAccount(Name, sub, id)
		if err != nil {
			apiError(w, r, 200, CodeNoSubKey, "API key doesn't exist.")
			return
		}
		out = append(out, keyJSON(k, sub))
	} else {
		for _, k := range sv.sim.Keys(Name, sub.ID, false) {
			out = append(out, keyJSON(k, sub))
		}
	}
	for _, k := range out {
		delete(k, "subAcct") // the query answer has no subAcct field
	}
	ok(w, out)
}

func (sv *server) createKey(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.mainKey(w, r, rq, true) {
		return
	}
	p, good := rq.object()
	if !good {
		apiError(w, r, 400, "50002", "JSON syntax error")
		return
	}
	sub, found := sv.subAccount(w, r, rq, str(p, "subAcct"))
	if !found {
		return
	}
	label, pass := str(p, "label"), str(p, "passphrase")
	switch {
	case label == "":
		apiError(w, r, 400, CodeParamEmpty, "Parameter label can not be empty.")
		return
	case pass == "":
		apiError(w, r, 400, CodeParamEmpty, "Parameter passphrase can not be empty.")
		return
	case !validPassphrase(pass):
		apiError(w, r, 200, CodeBadPassFormat, "The passphrase format is incorrect.")
		return
	}
	perms, good := parsePerm(str(p, "perm"))
	if !good {
		apiError(w, r, 400, CodeParam, "Parameter perm error")
		return
	}
	ips := splitIPs(str(p, "ip"))
	if len(ips) > MaxIPs {
		apiError(w, r, 200, CodeTooManyIPs, "Each API key can bind up to 20 IP addresses")
		return
	}
	// OKX refuses a second key with the same note on a sub-account: one
	// more guard against a retried create making a duplicate.
	for _, k := range sv.sim.Keys(Name, sub.ID, false) {
		if k.Label == label {
			apiError(w, r, 200, CodeDupLabel, "This note name already exists. Enter a unique API key note name")
			return
		}
	}
	k, err := sv.sim.CreateKey(exchangesim.KeySpec{Exchange: Name, Account: sub.ID, Label: label,
		Perms: perms, IPs: ips, Passphrase: pass})
	if err != nil {
		apiError(w, r, 200, CodeNoSubAccount, "Sub-account does not exist")
		return
	}
	exchangesim.CallOf(r).Result = "created key " + k.ID + " label " + k.Label
	out := keyJSON(k, sub)
	out["secretKey"] = k.Secret
	out["passphrase"] = k.Passphrase
	ok(w, []map[string]any{out})
}

// subKeyRequest is the common start of modify-apikey and delete-apikey: an
// IP-bound main key names one of its sub-accounts and a key on it. On a
// problem it answers as OKX does and reports false.
func (sv *server) subKeyRequest(w http.ResponseWriter, r *http.Request, rq request) (map[string]any, exchangesim.Account, string, bool) {
	if !sv.mainKey(w, r, rq, true) {
		return nil, exchangesim.Account{}, "", false
	}
	p, good := rq.object()
	if !good {
		apiError(w, r, 400, "50002", "JSON syntax error")
		return nil, exchangesim.Account{}, "", false
	}
	sub, found := sv.subAccount(w, r, rq, str(p, "subAcct"))
	if !found {
		return nil, sub, "", false
	}
	id := str(p, "apiKey")
	if id == "" {
		apiError(w, r, 400, CodeParamEmpty, "Parameter apiKey can not be empty.")
		return nil, sub, "", false
	}
	if _, err := sv.sim.KeyOfSubAccount(Name, sub, id); err != nil {
		apiError(w, r, 200, CodeNoSubKey, "API key doesn't exist.")
		return nil, sub, "", false
	}
	return p, sub, id, true
}

// modifyKey is POST modify-apikey: each of label, perm and ip present in the
// body replaces the key's value; ip="" removes the whitelist. The call log
// op says which of them changed (set_ip_whitelist when only ip).
func (sv *server) modifyKey(w http.ResponseWriter, r *http.Request, rq request) {
	p, sub, id, good := sv.subKeyRequest(w, r, rq)
	if !good {
		return
	}
	_, setLabel := p["label"]
	_, setPerm := p["perm"]
	_, setIP := p["ip"]
	var perms exchangesim.Perms
	if setPerm {
		if perms, good = parsePerm(str(p, "perm")); !good {
			apiError(w, r, 400, CodeParam, "Parameter perm error")
			return
		}
	}
	ips := splitIPs(str(p, "ip"))
	if len(ips) > MaxIPs {
		apiError(w, r, 200, CodeTooManyIPs, "Each API key can bind up to 20 IP addresses")
		return
	}
	k, err := sv.sim.UpdateKey(Name, id, func(k *exchangesim.Key) error {
		if setLabel {
			k.Label = str(p, "label")
		}
		if setPerm {
			k.Perms = perms
		}
		if setIP {
			k.IPs = ips // a replacement, never an append; "" clears it
		}
		return nil
	})
	if err != nil {
		apiError(w, r, 200, CodeNoSubKey, "API key doesn't exist.")
		return
	}
	call := exchangesim.CallOf(r)
	if setIP && !setPerm && !setLabel {
		call.Op = "set_ip_whitelist"
	}
	var changed []string
	for f, set := range map[string]bool{"label": setLabel, "perm": setPerm, "ip": setIP} {
		if set {
			changed = append(changed, f)
		}
	}
	sort.Strings(changed)
	call.Result = "modified " + strings.Join(changed, ",") + " of key " + k.ID + " (ip " + strings.Join(k.IPs, ",") + ")"
	ok(w, []map[string]any{keyJSON(k, sub)})
}

func (sv *server) deleteKey(w http.ResponseWriter, r *http.Request, rq request) {
	_, sub, id, good := sv.subKeyRequest(w, r, rq)
	if !good {
		return
	}
	if err := sv.sim.RevokeKey(Name, id); err != nil {
		apiError(w, r, 200, CodeNoSubKey, "API key doesn't exist.")
		return
	}
	exchangesim.CallOf(r).Result = "revoked key " + id
	ok(w, []map[string]any{{"subAcct": sub.Name}})
}

// accountConfig is GET /api/v5/account/config: the calling key's own view
// of its account, label, rights and whitelist — how a key proves what it can
// do without trying it.
func (sv *server) accountConfig(w http.ResponseWriter, r *http.Request, rq request) {
	k := rq.key
	acc, _ := sv.sim.Account(k.Account)
	mainUID := acc.UID
	if acc.Parent != "" {
		if p, found := sv.sim.Account(acc.Parent); found {
			mainUID = p.UID
		}
	}
	ok(w, []map[string]any{{
		"uid": acc.UID, "mainUid": mainUID, "acctLv": "1", "posMode": "net_mode", "autoLoan": false,
		"greeksType": "PA", "level": "Lv1", "levelTmp": "", "ctIsoMode": "automatic", "mgnIsoMode": "automatic",
		"roleType": "0", "spotRoleType": "0", "opAuth": "0", "kycLv": "2", "type": "0",
		"label": k.Label, "ip": strings.Join(k.IPs, ","), "perm": permString(k.Perms),
	}})
}
