package bybitsim

import (
	"errors"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// Bybit's key vocabulary and how it maps to the core's rights:
//
//	readOnly 1                        → Read only, whatever the groups say
//	Spot ["SpotTrade"]                → Trade
//	ContractTrade ["Order","Position"] / Options → Futures
//	Wallet, main account: AccountTransfer / SubMemberTransfer → ManageKeys,
//	                      Withdraw → Withdraw
//	Wallet, sub-account:  AccountTransfer / SubMemberTransferList → Withdraw
//	                      (moving funds out is how a sub key drains)
//
// ips: "a,b" binds; absent, "" or "*" means no binding (reported as ["*"]).

// noBindingTTL is how long a key without IP binding lives on Bybit.
const noBindingTTL = 90 * 24 * time.Hour

func permissionsJSON(p exchangesim.Perms, master bool) map[string][]string {
	out := map[string][]string{}
	for _, g := range []string{"ContractTrade", "Spot", "Wallet", "Options", "Derivatives", "CopyTrading",
		"BlockTrade", "Exchange", "NFT", "Affiliate", "Earn"} {
		out[g] = []string{}
	}
	if p.Trade {
		out["Spot"] = []string{"SpotTrade"}
	}
	if p.Futures {
		out["ContractTrade"] = []string{"Order", "Position"}
	}
	if p.Trade || p.Futures {
		out["Derivatives"] = []string{"DerivativesTrade"} // unified accounts get it by default
	}
	switch {
	case master:
		if p.ManageKeys {
			out["Wallet"] = append(out["Wallet"], "AccountTransfer", "SubMemberTransfer")
		}
		if p.Withdraw {
			out["Wallet"] = append(out["Wallet"], "Withdraw")
		}
	case p.Withdraw:
		out["Wallet"] = []string{"AccountTransfer", "SubMemberTransferList"}
	}
	return out
}

func readOnly(p exchangesim.Perms) bool { return !(p.Trade || p.Futures || p.Withdraw || p.ManageKeys) }

// parsePermissions reads a permissions object; ok=false when it is not an
// object of string lists.
func parsePermissions(v any, master bool) (exchangesim.Perms, bool) {
	m, isMap := v.(map[string]any)
	if !isMap {
		return exchangesim.Perms{}, false
	}
	p := exchangesim.Perms{Read: true}
	for group, raw := range m {
		list, isList := raw.([]any)
		if !isList && raw != nil {
			return p, false
		}
		for _, x := range list {
			s, _ := x.(string)
			switch {
			case group == "Spot" && s == "SpotTrade":
				p.Trade = true
			case group == "ContractTrade" && s != "", group == "Options" && s != "":
				p.Futures = true
			case group == "Wallet" && master && (s == "AccountTransfer" || s == "SubMemberTransfer"):
				p.ManageKeys = true
			case group == "Wallet" && master && s == "Withdraw":
				p.Withdraw = true
			case group == "Wallet" && !master && (s == "AccountTransfer" || s == "SubMemberTransferList"):
				p.Withdraw = true
			}
		}
	}
	return p, true
}

// parseIPs reads ips as Bybit's comma string (or a list, as some SDKs send).
func parseIPs(v any) []string {
	var raw []string
	switch t := v.(type) {
	case string:
		raw = strings.Split(t, ",")
	case []any:
		for _, x := range t {
			if s, isStr := x.(string); isStr {
				raw = append(raw, s)
			}
		}
	}
	var out []string
	for _, ip := range raw {
		if ip = strings.TrimSpace(ip); ip != "" && ip != "*" {
			out = append(out, ip)
		}
	}
	return out
}

func ipsJSON(ips []string) []string {
	if len(ips) == 0 {
		return []string{"*"}
	}
	return append([]string(nil), ips...)
}

// internalID is Bybit's numeric "id" field, stable per key.
func internalID(k exchangesim.Key) string {
	h := fnv.New32a()
	h.Write([]byte(k.ID))
	return strconv.FormatUint(uint64(h.Sum32()%90000000+10000000), 10)
}

func (sv *server) isMaster(k exchangesim.Key) bool {
	acc, found := sv.sim.Account(k.Account)
	return found && acc.Parent == ""
}

func expiry(k exchangesim.Key) (expiredAt string, days int) {
	if len(k.IPs) > 0 {
		return "", 0
	}
	exp := k.CreatedAt.Add(noBindingTTL)
	return exp.UTC().Format(time.RFC3339), int(time.Until(exp).Hours() / 24)
}

func (sv *server) keyJSON(k exchangesim.Key) map[string]any {
	ro := 0
	if readOnly(k.Perms) {
		ro = 1
	}
	return map[string]any{"id": internalID(k), "note": k.Label, "apiKey": k.ID, "readOnly": ro, "secret": "",
		"permissions": permissionsJSON(k.Perms, sv.isMaster(k)), "ips": ipsJSON(k.IPs)}
}

// queryAPI is GET /v5/user/query-api: the calling key describes itself.
func (sv *server) queryAPI(w http.ResponseWriter, r *http.Request, rq request) {
	k := rq.key
	acc, _ := sv.sim.Account(k.Account)
	parent := "0"
	if acc.Parent != "" {
		if p, found := sv.sim.Account(acc.Parent); found {
			parent = p.UID
		}
	}
	out := sv.keyJSON(k)
	exp, days := expiry(k)
	uid, _ := strconv.ParseInt(acc.UID, 10, 64)
	for f, v := range map[string]any{"type": 1, "deadlineDay": days, "expiredAt": exp,
		"createdAt": k.CreatedAt.UTC().Format(time.RFC3339), "unified": 0, "uta": 1, "userID": uid,
		"inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "",
		"isMaster": acc.Parent == "", "parentUid": parent, "kycLevel": "LEVEL_DEFAULT", "kycRegion": ""} {
		out[f] = v
	}
	sv.ok(w, out)
}

func (sv *server) accountInfo(w http.ResponseWriter, r *http.Request, rq request) {
	sv.ok(w, map[string]any{"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": false,
		"spotHedgingStatus": "OFF", "updatedTime": msStr(sv.sim.Now())})
}

// masterKey checks that the caller is a main-account key holding the
// management right (Bybit: a Wallet transfer permission).
func (sv *server) masterKey(w http.ResponseWriter, r *http.Request, rq request) bool {
	if !sv.isMaster(rq.key) || !rq.key.Perms.ManageKeys {
		sv.apiError(w, r, CodeNoPermission, "Permission denied, please check your API key permissions.")
		return false
	}
	return true
}

func (sv *server) querySubMembers(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.masterKey(w, r, rq) {
		return
	}
	var out []map[string]any
	for _, a := range sv.sim.Accounts(Name) {
		if a.Parent == rq.key.Account {
			out = append(out, map[string]any{"uid": a.UID, "username": a.Name, "memberType": 1, "status": 1,
				"accountMode": 5, "remark": ""})
		}
	}
	sv.ok(w, map[string]any{"subMembers": out})
}

// subAPIKeys is GET /v5/user/sub-apikeys?subMemberId=: every live key of a
// sub UID (one page: the simulator never has more than 20).
func (sv *server) subAPIKeys(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.masterKey(w, r, rq) {
		return
	}
	uid := str(rq.params, "subMemberId")
	if uid == "" {
		sv.apiError(w, r, CodeParam, "Request parameter error. subMemberId is required")
		return
	}
	sub, err := sv.sim.ManagedSubAccount(rq.key, uid)
	if err != nil {
		sv.apiError(w, r, CodeNoSubMember, "Request parameter error. sub member does not exist")
		return
	}
	var list []map[string]any
	for _, k := range sv.sim.Keys(Name, sub.ID, false) {
		exp, days := expiry(k)
		status := 1 // permanent (IP bound)
		if len(k.IPs) == 0 {
			status = 3
		}
		list = append(list, map[string]any{"id": internalID(k), "ips": ipsJSON(k.IPs), "apiKey": k.ID,
			"note": k.Label, "status": status, "expiredAt": exp, "createdAt": k.CreatedAt.UTC().Format(time.RFC3339),
			"type": 1, "permissions": permissionsJSON(k.Perms, false), "secret": "******",
			"readOnly": readOnly(k.Perms), "deadlineDay": days, "flag": "hmac"})
	}
	if list == nil {
		list = []map[string]any{}
	}
	sv.ok(w, map[string]any{"result": list, "nextPageCursor": ""})
}

// createSubAPI is POST /v5/user/create-sub-api (main account key only).
func (sv *server) createSubAPI(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.masterKey(w, r, rq) {
		return
	}
	p := rq.params
	uid := str(p, "subuid")
	if uid == "" {
		sv.apiError(w, r, CodeParam, "Request parameter error. subuid is required")
		return
	}
	sub, err := sv.sim.ManagedSubAccount(rq.key, uid)
	if err != nil {
		sv.apiError(w, r, CodeNoSubMember, "Request parameter error. sub member does not exist")
		return
	}
	ro := str(p, "readOnly")
	if ro != "0" && ro != "1" {
		sv.apiError(w, r, CodeParam, "Request parameter error. readOnly must be 0 or 1")
		return
	}
	perms, good := parsePermissions(p["permissions"], false)
	if !good || len(p["permissions"].(map[string]any)) == 0 {
		sv.apiError(w, r, CodeParam, "Request parameter error. permissions is required")
		return
	}
	if ro == "1" {
		perms = exchangesim.Perms{Read: true}
	}
	k, err := sv.sim.CreateKey(exchangesim.KeySpec{Exchange: Name, Account: sub.ID, Label: str(p, "note"),
		Perms: perms, IPs: parseIPs(p["ips"])})
	if err != nil {
		sv.apiError(w, r, CodeNoSubMember, "Request parameter error. sub member does not exist")
		return
	}
	exchangesim.CallOf(r).Result = "created key " + k.ID + " label " + k.Label
	out := sv.keyJSON(k)
	delete(out, "ips")
	out["secret"] = k.Secret
	sv.ok(w, out)
}

// target resolves the key a sub-key endpoint acts on: with a main key, the
// sub-account key named by apikey; with a sub-account key, the caller
// itself (and apikey must not be passed). A sub key needs a Wallet transfer
// right to manage itself.
func (sv *server) target(w http.ResponseWriter, r *http.Request, rq request) (exchangesim.Key, bool) {
	id := str(rq.params, "apikey")
	if !sv.isMaster(rq.key) {
		if id != "" {
			sv.apiError(w, r, CodeParam, "Request parameter error. apikey cannot be passed with a sub account api key")
			return exchangesim.Key{}, false
		}
		if !rq.key.Perms.Withdraw {
			sv.apiError(w, r, CodeNoPermission, "Permission denied, please check your API key permissions.")
			return exchangesim.Key{}, false
		}
		return rq.key, true
	}
	if !sv.masterKey(w, r, rq) {
		return exchangesim.Key{}, false
	}
	if id == "" {
		sv.apiError(w, r, CodeParam, "Request parameter error. apikey is required")
		return exchangesim.Key{}, false
	}
	k, found := sv.sim.Key(Name, id)
	if !found || k.Revoked {
		sv.apiError(w, r, CodeNoSubKey, "Request parameter error. api key does not exist")
		return exchangesim.Key{}, false
	}
	if _, err := sv.sim.ManagedSubAccount(rq.key, k.Account); err != nil {
		sv.apiError(w, r, CodeNoSubKey, "Request parameter error. api key does not exist")
		return exchangesim.Key{}, false
	}
	return k, true
}

// modify applies update-(sub-)api's documented semantics to a key:
// readOnly absent means 0 (read and write), ips absent or "*" means no
// binding, permissions absent means unchanged.
func (sv *server) modify(w http.ResponseWriter, r *http.Request, rq request, k exchangesim.Key, master bool) {
	p := rq.params
	ro := str(p, "readOnly")
	if ro != "" && ro != "0" && ro != "1" {
		sv.apiError(w, r, CodeParam, "Request parameter error. readOnly must be 0 or 1")
		return
	}
	var perms exchangesim.Perms
	setPerms := rq.present["permissions"]
	if setPerms {
		var good bool
		if perms, good = parsePermissions(p["permissions"], master); !good {
			sv.apiError(w, r, CodeParam, "Request parameter error. permissions")
			return
		}
	}
	ips := parseIPs(p["ips"])
	k, err := sv.sim.UpdateKey(Name, k.ID, func(k *exchangesim.Key) error {
		if setPerms {
			k.Perms = perms
		}
		if ro == "1" {
			k.Perms = exchangesim.Perms{Read: true}
		}
		k.IPs = ips // always a replacement
		return nil
	})
	if err != nil {
		sv.apiError(w, r, CodeNoSubKey, "Request parameter error. api key does not exist")
		return
	}
	call := exchangesim.CallOf(r)
	if !setPerms {
		call.Op = "set_ip_whitelist"
	}
	var ipNote = "*"
	if len(k.IPs) > 0 {
		ipNote = strings.Join(k.IPs, ",")
	}
	call.Result = "modified key " + k.ID + " (ips " + ipNote + ", readOnly " + strconv.FormatBool(readOnly(k.Perms)) + ")"
	sv.ok(w, sv.keyJSON(k))
}

func (sv *server) updateSubAPI(w http.ResponseWriter, r *http.Request, rq request) {
	k, found := sv.target(w, r, rq)
	if !found {
		return
	}
	sv.modify(w, r, rq, k, false)
}

// updateAPI is POST /v5/user/update-api: a main-account key changes itself.
func (sv *server) updateAPI(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.isMaster(rq.key) || !(rq.key.Perms.ManageKeys || rq.key.Perms.Withdraw) {
		sv.apiError(w, r, CodeNoPermission, "Permission denied, please check your API key permissions.")
		return
	}
	sv.modify(w, r, rq, rq.key, true)
}

func (sv *server) deleteSubAPI(w http.ResponseWriter, r *http.Request, rq request) {
	k, found := sv.target(w, r, rq)
	if !found {
		return
	}
	if err := sv.sim.RevokeKey(Name, k.ID); err != nil {
		sv.apiError(w, r, CodeNoSubKey, "Request parameter error. api key does not exist")
		return
	}
	call := exchangesim.CallOf(r)
	if k.ID == rq.key.ID {
		call.Op = "self_revoke"
	}
	call.Result = "revoked key " + k.ID
	sv.ok(w, map[string]any{})
}

// deleteAPI is POST /v5/user/delete-api: a main-account key deletes itself,
// effective at once.
func (sv *server) deleteAPI(w http.ResponseWriter, r *http.Request, rq request) {
	if !sv.isMaster(rq.key) || !(rq.key.Perms.ManageKeys || rq.key.Perms.Withdraw) {
		sv.apiError(w, r, CodeNoPermission, "Permission denied, please check your API key permissions.")
		return
	}
	if err := sv.sim.RevokeKey(Name, rq.key.ID); err != nil && !errors.Is(err, exchangesim.ErrNoKey) {
		sv.apiError(w, r, CodeServerError, "Internal server error.")
		return
	}
	exchangesim.CallOf(r).Result = "revoked key " + rq.key.ID
	sv.ok(w, map[string]any{})
}
