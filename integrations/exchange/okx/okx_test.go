package okx_test

import (
	"testing"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/exchangetest"
	"github.com/keyresponse/runbook/integrations/exchange/okx"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/okxsim"
)

// dialect runs the adapter through the real ccxt client against the
// simulator's OKX dialect.
var dialect = exchangetest.Dialect{
	Name:          okx.Name,
	Sim:           func() exchangesim.Dialect { return okxsim.New() },
	Seed:          7,
	Passphrase:    true,
	SubAccount:    func(a exchangesim.Account) string { return a.Name },
	CreateKeyPath: "/api/v5/users/subaccount/apikey",
}

func newFixture(t *testing.T) *exchangetest.Fixture { return exchangetest.New(t, dialect) }

func TestKeyLifecycle(t *testing.T) {
	f := newFixture(t)
	c := exchangetest.Ctx(t)
	sub := f.Sub()

	keys, err := f.Ex.ListKeys(c, sub)
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	if len(keys) != 1 || keys[0].ID != f.Demo.Bot.ID || !keys[0].Permissions.Withdraw || len(keys[0].IPWhitelist) != 0 {
		t.Fatalf("list keys = %+v, want the sloppy demo bot key", keys)
	}

	nk, err := f.Ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: sub, Label: "rb-inc1-create",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{exchangetest.BotIP}})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	if nk.ID == "" || nk.Secret == "" || nk.Passphrase == "" {
		t.Fatal("new key lacks id, secret or passphrase")
	}
	sk, found := f.Sim.Key(okx.Name, nk.ID)
	if !found || sk.Secret != nk.Secret || sk.Passphrase != nk.Passphrase || !sk.Perms.Trade || sk.Perms.Withdraw ||
		!exchange.SameIPs(sk.IPs, []string{exchangetest.BotIP}) || sk.Account != f.Demo.Sub.ID {
		t.Fatalf("simulator has key %+v", sk.Public())
	}
	info, err := f.Ex.KeyInfo(c, sub, nk.ID)
	if err != nil || info.Label != "rb-inc1-create" || !info.Permissions.Trade || info.Permissions.Withdraw ||
		!exchange.SameIPs(info.IPWhitelist, []string{exchangetest.BotIP}) {
		t.Fatalf("key info = %+v, %v", info, err)
	}

	// OKX refuses a second key with the same label on the sub-account.
	_, err = f.Ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: sub, Label: "rb-inc1-create",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{exchangetest.BotIP}})
	if exchange.KindOf(err) != exchange.KindInvalid || exchangetest.Code(err) != okxsim.CodeDupLabel {
		t.Fatalf("duplicate label: err = %v, want invalid 59502", err)
	}
	// Withdrawal cannot be granted: refused before any request.
	before := len(f.Sim.Calls(exchangesim.CallFilter{Op: "create_key"}))
	_, err = f.Ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: sub, Label: "greedy",
		Permissions: exchange.Permissions{Read: true, Trade: true, Withdraw: true}, IPWhitelist: []string{exchangetest.BotIP}})
	if exchange.KindOf(err) != exchange.KindInvalid || len(f.Sim.Calls(exchangesim.CallFilter{Op: "create_key"})) != before {
		t.Fatalf("withdraw key: err = %v, want invalid without a request", err)
	}

	// The whitelist is a set: the second call replaces the first.
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.11", exchangetest.BotIP}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.12"}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if k, _ := f.Sim.Key(okx.Name, nk.ID); !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) || !k.Perms.Trade {
		t.Fatalf("after set: ips %v perms %+v, want only 127.0.0.12 and trade kept", k.IPs, k.Perms)
	}
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, nil); exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("empty whitelist: err = %v, want invalid", err)
	}
	if calls := f.Sim.Calls(exchangesim.CallFilter{Op: "set_ip_whitelist", OnlyOK: true}); len(calls) != 2 {
		t.Fatalf("set_ip_whitelist calls = %d, want 2 (the empty list never sent)", len(calls))
	}

	// Permissions: read-only, then trade again; the whitelist stays.
	if err := f.Ex.SetPermissions(c, sub, nk.ID, exchange.Permissions{Read: true}); err != nil {
		t.Fatalf("set permissions: %v", err)
	}
	if k, _ := f.Sim.Key(okx.Name, nk.ID); k.Perms.Trade || !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) {
		t.Fatalf("after read-only: %+v ips %v", k.Perms, k.IPs)
	}

	if err := f.Ex.RevokeKey(c, sub, nk.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if k, _ := f.Sim.Key(okx.Name, nk.ID); !k.Revoked {
		t.Fatal("key not revoked in the simulator")
	}
	if err := f.Ex.RevokeKey(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("second revoke: err = %v, want not found", err)
	}
	if _, err := f.Ex.KeyInfo(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("key info of revoked key: err = %v, want not found", err)
	}
	// A wrong sub-account must not look like "already revoked".
	if err := f.Ex.RevokeKey(c, "nobody", f.Demo.Bot.ID); exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("revoke on unknown sub-account: err = %v, want invalid", err)
	}
}

func TestManagementKeyRules(t *testing.T) {
	f := newFixture(t)
	c := exchangetest.Ctx(t)
	// From outside its whitelist the management key is refused (50110).
	cfg := f.Cfg
	cfg.LocalAddr = exchangetest.AttackerIP
	ex, _ := exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.Sub()); exchange.KindOf(err) != exchange.KindPermission || exchangetest.Code(err) != okxsim.CodeIPRefused {
		t.Fatalf("management key from %s: err = %v, want permission 50110", exchangetest.AttackerIP, err)
	}
	// OKX demands an IP-bound main key for key changes (50035).
	loose, err := f.Sim.CreateKey(exchangesim.KeySpec{Exchange: okx.Name, Account: f.Demo.Main.ID, Label: "loose",
		Perms: exchangesim.Perms{Read: true, ManageKeys: true}, Passphrase: "Loose-pass-1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg = f.Cfg
	cfg.Management = exchange.Credential{APIKey: loose.ID, Secret: loose.Secret, Passphrase: loose.Passphrase}
	ex, _ = exchange.Open(cfg)
	_, err = ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: f.Sub(), Label: "x",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{exchangetest.BotIP}})
	if exchange.KindOf(err) != exchange.KindPermission || exchangetest.Code(err) != okxsim.CodeNeedIPBinding {
		t.Fatalf("create with unbound main key: err = %v, want permission 50035", err)
	}
	// A sub-account key cannot manage keys (59500), and a wrong passphrase
	// is an authentication failure (50105).
	cfg.Management = f.BotCred()
	ex, _ = exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.Sub()); exchange.KindOf(err) != exchange.KindPermission || exchangetest.Code(err) != okxsim.CodeMainKeyOnly {
		t.Fatalf("list with a sub key: err = %v, want permission 59500", err)
	}
	cfg.Management = f.Cfg.Management
	cfg.Management.Passphrase = "Wrong-pass-1"
	ex, _ = exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.Sub()); exchange.KindOf(err) != exchange.KindAuthentication || exchangetest.Code(err) != okxsim.CodeBadPassphrase {
		t.Fatalf("wrong passphrase: err = %v, want authentication 50105", err)
	}
}

func TestCancelAllOrdersAndVerify(t *testing.T) {
	exchangetest.CancelAllOrdersAndVerify(t, dialect, nil)
}

func TestTradeOnlyKeyCannotWithdraw(t *testing.T) {
	f, nk := exchangetest.TradeOnlyKeyCannotWithdraw(t, dialect)
	v, err := f.Ex.VerifyKey(exchangetest.Ctx(t), nk.Credential(), exchangetest.BotIP)
	if err != nil || !v.Authenticated || v.Permissions.Withdraw || v.Permissions.Futures || !v.Permissions.Trade {
		t.Fatalf("verify trade-only key = %+v, %v (futures off: the sub-account is in spot mode)", v, err)
	}
}

func TestFaultsAreClassified(t *testing.T) { exchangetest.FaultsAreClassified(t, dialect) }

func TestReusedClientsClassifyLikeFresh(t *testing.T) {
	exchangetest.ReusedClientsClassifyLikeFresh(t, dialect)
}

func TestClientsAreReused(t *testing.T) { exchangetest.ClientsAreReused(t, dialect) }

func TestLockoutRequests(t *testing.T) { exchangetest.LockoutRequests(t, dialect, 1) }
