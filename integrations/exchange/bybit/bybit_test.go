package bybit_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/bybit"
	"github.com/keyresponse/runbook/integrations/exchange/exchangetest"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/bybitsim"
)

// dialect runs the adapter through the real ccxt client against the
// simulator's Bybit dialect.
var dialect = exchangetest.Dialect{
	Name:          bybit.Name,
	Sim:           func() exchangesim.Dialect { return bybitsim.New() },
	Seed:          7,
	SubAccount:    func(a exchangesim.Account) string { return a.UID },
	CreateKeyPath: "/v5/user/create-sub-api",
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
	if nk.ID == "" || nk.Secret == "" {
		t.Fatal("new key lacks id or secret")
	}
	sk, found := f.Sim.Key(bybit.Name, nk.ID)
	if !found || sk.Secret != nk.Secret || !sk.Perms.Trade || sk.Perms.Futures || sk.Perms.Withdraw ||
		!exchange.SameIPs(sk.IPs, []string{exchangetest.BotIP}) || sk.Account != f.Demo.Sub.ID || sk.Label != "rb-inc1-create" {
		t.Fatalf("simulator has key %+v", sk.Public())
	}
	info, err := f.Ex.KeyInfo(c, sub, nk.ID)
	if err != nil || info.Label != "rb-inc1-create" || !info.Permissions.Trade || info.Permissions.Withdraw ||
		info.Permissions.Futures || !exchange.SameIPs(info.IPWhitelist, []string{exchangetest.BotIP}) {
		t.Fatalf("key info = %+v, %v", info, err)
	}

	// The whitelist is a set: the second call replaces the first, and the
	// key stays read-write (update-sub-api's readOnly defaults to 0 only
	// because the adapter sends it).
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.11", exchangetest.BotIP}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.12"}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if k, _ := f.Sim.Key(bybit.Name, nk.ID); !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) || !k.Perms.Trade {
		t.Fatalf("after set: ips %v perms %+v, want only 127.0.0.12 and trade kept", k.IPs, k.Perms)
	}
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, nil); exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("empty whitelist: err = %v, want invalid", err)
	}
	if calls := f.Sim.Calls(exchangesim.CallFilter{Op: "set_ip_whitelist", OnlyOK: true}); len(calls) != 2 {
		t.Fatalf("set_ip_whitelist calls = %d, want 2 (the empty list never sent)", len(calls))
	}

	// Permissions change keeps the whitelist (an update without ips would
	// unbind the key on Bybit).
	if err := f.Ex.SetPermissions(c, sub, nk.ID, exchange.Permissions{Read: true}); err != nil {
		t.Fatalf("set permissions: %v", err)
	}
	if k, _ := f.Sim.Key(bybit.Name, nk.ID); k.Perms.Trade || !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) {
		t.Fatalf("after read-only: %+v ips %v", k.Perms, k.IPs)
	}
	if err := f.Ex.SetPermissions(c, sub, nk.ID, exchange.Permissions{Read: true, Trade: true}); err != nil {
		t.Fatalf("set permissions: %v", err)
	}
	if k, _ := f.Sim.Key(bybit.Name, nk.ID); !k.Perms.Trade || k.Perms.Withdraw || !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) {
		t.Fatalf("after trade: %+v ips %v", k.Perms, k.IPs)
	}

	if err := f.Ex.RevokeKey(c, sub, nk.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if k, _ := f.Sim.Key(bybit.Name, nk.ID); !k.Revoked {
		t.Fatal("key not revoked in the simulator")
	}
	if err := f.Ex.RevokeKey(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("second revoke: err = %v, want not found", err)
	}
	if _, err := f.Ex.KeyInfo(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("key info of revoked key: err = %v, want not found", err)
	}
	// A wrong sub-account must not look like "already revoked".
	for _, bad := range []string{"999999", f.Demo.Sub.Name} {
		if err := f.Ex.RevokeKey(c, bad, f.Demo.Bot.ID); exchange.KindOf(err) != exchange.KindInvalid {
			t.Fatalf("revoke on sub-account %q: err = %v, want invalid", bad, err)
		}
	}
}

func TestManagementKeyRules(t *testing.T) {
	f := newFixture(t)
	c := exchangetest.Ctx(t)
	cfg := f.Cfg
	cfg.LocalAddr = exchangetest.AttackerIP
	ex, _ := exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.Sub()); exchange.KindOf(err) != exchange.KindPermission ||
		exchangetest.Code(err) != strconv.Itoa(bybitsim.CodeIPRefused) {
		t.Fatalf("management key from %s: err = %v, want permission 10010", exchangetest.AttackerIP, err)
	}
	// A sub-account key cannot manage sub keys (10005).
	cfg = f.Cfg
	cfg.Management = f.BotCred()
	ex, _ = exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.Sub()); exchange.KindOf(err) != exchange.KindPermission ||
		exchangetest.Code(err) != strconv.Itoa(bybitsim.CodeNoPermission) {
		t.Fatalf("list with a sub key: err = %v, want permission 10005", err)
	}
	// A wrong secret is an authentication failure (10004).
	cfg.Management = exchange.Credential{APIKey: f.Demo.Management.ID, Secret: "wrong"}
	ex, _ = exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.Sub()); exchange.KindOf(err) != exchange.KindAuthentication ||
		exchangetest.Code(err) != strconv.Itoa(bybitsim.CodeBadSign) {
		t.Fatalf("wrong secret: err = %v, want authentication 10004", err)
	}
}

func TestCancelAllOrdersAndVerify(t *testing.T) {
	// Bybit cancels per symbol when symbols are given: only the named one.
	exchangetest.CancelAllOrdersAndVerify(t, dialect, func(t *testing.T, c context.Context, f *exchangetest.Fixture, bot exchange.Credential) {
		tr := f.Trader(bot, exchangetest.BotIP)
		for _, s := range []string{"ETH/USDT", "SOL/USDT"} {
			if _, err := tr.PlaceOrder(c, s, "buy", 1, 10); err != nil {
				t.Fatalf("place order: %v", err)
			}
		}
		res, err := f.Ex.CancelAllOrders(c, bot, []string{"SOL/USDT"})
		if err != nil || len(res.Cancelled) != 1 || len(f.Sim.OpenOrders(f.Demo.Sub.ID, "ETHUSDT")) != 1 {
			t.Fatalf("cancel SOL/USDT only = %+v, %v", res, err)
		}
	})
}

func TestTradeOnlyKeyCannotWithdraw(t *testing.T) {
	f, nk := exchangetest.TradeOnlyKeyCannotWithdraw(t, dialect)
	v, err := f.Ex.VerifyKey(exchangetest.Ctx(t), nk.Credential(), exchangetest.BotIP)
	if err != nil || !v.Authenticated || v.Permissions.Withdraw || v.Permissions.Futures || !v.Permissions.Trade {
		t.Fatalf("verify trade-only key = %+v, %v", v, err)
	}
}

func TestSelfRevoke(t *testing.T) {
	f := newFixture(t)
	c := exchangetest.Ctx(t)
	if !f.Ex.Capabilities().SelfRevoke {
		t.Fatal("Bybit adapter should offer self-revoke")
	}
	// The leaked demo bot key holds a Wallet transfer right, so it can
	// delete itself — the emergency path when only the leaked key is at hand.
	leaked := f.BotCred()
	if err := f.Ex.SelfRevoke(c, leaked); err != nil {
		t.Fatalf("self-revoke of the leaked sub key: %v", err)
	}
	if k, _ := f.Sim.Key(bybit.Name, leaked.APIKey); !k.Revoked {
		t.Fatal("leaked key still live after self-revoke")
	}
	calls := f.Sim.Calls(exchangesim.CallFilter{Op: "self_revoke", KeyID: leaked.APIKey, OnlyOK: true})
	if len(calls) != 1 || calls[0].Path != "/v5/user/delete-sub-api" {
		t.Fatalf("self-revoke calls = %+v, want one delete-sub-api with the leaked key", calls)
	}
	if _, err := f.Trader(leaked, exchangetest.AttackerIP).PlaceOrder(c, "BTC/USDT", "sell", 0.5, 70000); exchange.KindOf(err) != exchange.KindAuthentication {
		t.Fatalf("attacker after self-revoke: err = %v, want authentication", err)
	}
	if err := f.Ex.SelfRevoke(c, leaked); !exchange.IsNotFound(err) {
		t.Fatalf("second self-revoke: err = %v, want not found", err)
	}

	// A trade-only key cannot delete itself: permission, and it stays.
	nk, err := f.Ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: f.Sub(), Label: "trade-only",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{exchangetest.EngineIP}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Ex.SelfRevoke(c, nk.Credential()); exchange.KindOf(err) != exchange.KindPermission {
		t.Fatalf("self-revoke of a trade-only key: err = %v, want permission", err)
	}
	if k, _ := f.Sim.Key(bybit.Name, nk.ID); k.Revoked {
		t.Fatal("trade-only key was revoked")
	}

	// A leaked main-account key with withdrawal rights deletes itself with
	// delete-api.
	mainKey, err := f.Sim.CreateKey(exchangesim.KeySpec{Exchange: bybit.Name, Account: f.Demo.Main.ID, Label: "main",
		Perms: exchangesim.Perms{Read: true, Trade: true, Withdraw: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Ex.SelfRevoke(c, f.Cred(mainKey)); err != nil {
		t.Fatalf("self-revoke of a main key: %v", err)
	}
	if k, _ := f.Sim.Key(bybit.Name, mainKey.ID); !k.Revoked {
		t.Fatal("main key still live")
	}
	if calls := f.Sim.Calls(exchangesim.CallFilter{KeyID: mainKey.ID, Path: "/v5/user/delete-api", OnlyOK: true}); len(calls) != 1 {
		t.Fatalf("delete-api calls = %+v, want one", calls)
	}
}

func TestFaultsAreClassified(t *testing.T) { exchangetest.FaultsAreClassified(t, dialect) }

func TestReusedClientsClassifyLikeFresh(t *testing.T) {
	exchangetest.ReusedClientsClassifyLikeFresh(t, dialect)
}

func TestClientsAreReused(t *testing.T) { exchangetest.ClientsAreReused(t, dialect) }

func TestLockoutRequests(t *testing.T) { exchangetest.LockoutRequests(t, dialect, 2) }
