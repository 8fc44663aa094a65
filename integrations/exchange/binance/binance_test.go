package binance_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/exchange"
	_ "github.com/keyresponse/runbook/integrations/exchange/binance" // registers "binance"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/binancesim"
)

const (
	engineIP   = "127.0.0.1"
	botIP      = "127.0.0.10"
	attackerIP = "127.0.0.66"
)

type fixture struct {
	sim  *exchangesim.Sim
	demo exchangesim.DemoAccount
	ex   exchange.Exchange
	cfg  exchange.Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sim := exchangesim.New(exchangesim.Options{Seed: 1, Dialects: []exchangesim.Dialect{binancesim.New()}})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	d, err := sim.SeedDemo(exchangesim.DemoOptions{EngineIPs: []string{engineIP}})
	if err != nil {
		t.Fatal(err)
	}
	demo, _ := d.Find("binance")
	cfg := exchange.Config{
		Exchange:   "binance",
		BaseURL:    sim.DialectURL("binance"),
		Management: exchange.Credential{APIKey: demo.Management.ID, Secret: demo.Management.Secret},
		LocalAddr:  engineIP,
	}
	ex, err := exchange.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sim: sim, demo: demo, ex: ex, cfg: cfg}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func botCred(d exchangesim.DemoAccount) exchange.Credential {
	return exchange.Credential{APIKey: d.Bot.ID, Secret: d.Bot.Secret}
}

func TestKeyLifecycle(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	sub := f.demo.Sub.Email

	keys, err := f.ex.ListKeys(c, sub)
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	if len(keys) != 1 || keys[0].ID != f.demo.Bot.ID || !keys[0].Permissions.Withdraw || len(keys[0].IPWhitelist) != 0 {
		t.Fatalf("list keys = %+v, want the sloppy demo bot key", keys)
	}

	nk, err := f.ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: sub, Label: "rb-inc1-create",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{botIP}})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	if nk.Secret == "" || nk.ID == "" {
		t.Fatalf("new key lacks id or secret")
	}
	simKey, ok := f.sim.Key("binance", nk.ID)
	if !ok || simKey.Secret != nk.Secret || simKey.Perms.Withdraw || !simKey.Perms.Trade || simKey.Perms.Futures {
		t.Fatalf("simulator has key %+v", simKey.Public())
	}
	if !exchange.SameIPs(simKey.IPs, []string{botIP}) {
		t.Fatalf("simulator whitelist = %v", simKey.IPs)
	}

	info, err := f.ex.KeyInfo(c, sub, nk.ID)
	if err != nil || info.Label != "rb-inc1-create" || !exchange.SameIPs(info.IPWhitelist, []string{botIP}) {
		t.Fatalf("key info = %+v, %v", info, err)
	}

	// Set is a set: two calls, the second replaces the first.
	if err := f.ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.11", botIP}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if err := f.ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.12"}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if k, _ := f.sim.Key("binance", nk.ID); !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) {
		t.Fatalf("whitelist after set = %v, want only 127.0.0.12", k.IPs)
	}
	if err := f.ex.SetIPWhitelist(c, sub, nk.ID, nil); exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("empty whitelist: err = %v, want invalid", err)
	}

	if err := f.ex.SetPermissions(c, sub, f.demo.Bot.ID, exchange.Permissions{Read: true, Trade: true}); err != nil {
		t.Fatalf("set permissions: %v", err)
	}
	if k, _ := f.sim.Key("binance", f.demo.Bot.ID); k.Perms.Withdraw || !k.Perms.Trade {
		t.Fatalf("permissions after set = %+v", k.Perms)
	}

	if err := f.ex.RevokeKey(c, sub, nk.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if k, _ := f.sim.Key("binance", nk.ID); !k.Revoked {
		t.Fatal("key not revoked in the simulator")
	}
	if err := f.ex.RevokeKey(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("second revoke: err = %v, want not found", err)
	}
	// A wrong sub-account must not look like "already revoked".
	if err := f.ex.RevokeKey(c, "nobody@sim.invalid", f.demo.Bot.ID); exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("revoke on unknown sub-account: err = %v, want invalid", err)
	}
	if _, err := f.ex.KeyInfo(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("key info of revoked key: err = %v, want not found", err)
	}
}

func TestManagementKeyIsIPBound(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.LocalAddr = attackerIP
	ex, _ := exchange.Open(cfg)
	_, err := ex.ListKeys(ctx(t), f.demo.Sub.Email)
	if exchange.KindOf(err) != exchange.KindAuthentication {
		t.Fatalf("management key from %s: err = %v, want authentication", attackerIP, err)
	}
	calls := f.sim.Calls(exchangesim.CallFilter{Op: "list_keys", ClientIP: attackerIP})
	if len(calls) != 1 || calls[0].Status != 401 {
		t.Fatalf("simulator saw %+v, want one refused call from %s", calls, attackerIP)
	}
}

func TestCancelAllOrdersAndVerify(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	bot := botCred(f.demo)
	tr := f.ex.(exchange.TraderProvider).Trader(bot, botIP)
	if _, err := tr.PlaceOrder(c, "ETH/USDT", "sell", 1, 3500); err != nil {
		t.Fatalf("place order: %v", err)
	}
	res, err := f.ex.CancelAllOrders(c, bot, nil)
	if err != nil {
		t.Fatalf("cancel all: %v", err)
	}
	if len(res.Cancelled) != 3 || len(res.Symbols) != 2 {
		t.Fatalf("cancelled %v on %v, want 3 orders on BTC/USDT and ETH/USDT", res.Cancelled, res.Symbols)
	}
	if open := f.sim.OpenOrders(f.demo.Sub.ID, ""); len(open) != 0 {
		t.Fatalf("still open: %+v", open)
	}
	// Idempotent: nothing left is success with nothing cancelled.
	res, err = f.ex.CancelAllOrders(c, bot, nil)
	if err != nil || len(res.Cancelled) != 0 {
		t.Fatalf("second cancel all = %+v, %v", res, err)
	}

	v, err := f.ex.VerifyKey(c, bot, botIP)
	if err != nil || !v.Authenticated || !v.Permissions.Withdraw {
		t.Fatalf("verify demo bot key = %+v, %v", v, err)
	}
	// The simulator saw the bound source address.
	if calls := f.sim.Calls(exchangesim.CallFilter{Op: "api_restrictions", KeyID: bot.APIKey}); len(calls) == 0 || calls[0].ClientIP != botIP {
		t.Fatalf("verify calls = %+v, want client ip %s", calls, botIP)
	}
	v, err = f.ex.VerifyKey(c, exchange.Credential{APIKey: "nope", Secret: "nope"}, "")
	if err != nil || v.Authenticated || v.Rejection != exchange.KindAuthentication {
		t.Fatalf("verify unknown key = %+v, %v", v, err)
	}
}

func TestFaultsAreClassified(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	f.sim.SetFaults(exchangesim.Faults{RateLimit: 1, RetryAfter: 3 * time.Second})
	_, err := f.ex.ListKeys(c, f.demo.Sub.Email)
	var e *exchange.Error
	if exchange.KindOf(err) != exchange.KindRateLimited {
		t.Fatalf("err = %v, want rate limited", err)
	}
	if ok := asError(err, &e); !ok || e.RetryAfter != 3*time.Second {
		t.Fatalf("retry after = %v, want 3s", e.RetryAfter)
	}
	f.sim.SetFaults(exchangesim.Faults{ServerError: 1})
	if _, err := f.ex.ListKeys(c, f.demo.Sub.Email); exchange.KindOf(err) != exchange.KindUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	f.sim.SetFaults(exchangesim.Faults{Drop: 1})
	if _, err := f.ex.ListKeys(c, f.demo.Sub.Email); exchange.KindOf(err) != exchange.KindNetwork {
		t.Fatalf("err = %v, want network", err)
	}
	f.sim.SetFaults(exchangesim.Faults{})
	if _, err := f.ex.ListKeys(c, f.demo.Sub.Email); err != nil {
		t.Fatalf("after faults: %v", err)
	}
}

func asError(err error, e **exchange.Error) bool {
	x, ok := err.(*exchange.Error)
	*e = x
	return ok
}

func TestTradeOnlyKeyCannotWithdraw(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	nk, err := f.ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: f.demo.Sub.Email, Label: "trade-only",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{botIP}})
	if err != nil {
		t.Fatal(err)
	}
	tr := f.ex.(exchange.TraderProvider).Trader(nk.Credential(), botIP)
	if _, err := tr.Withdraw(c, "USDT", 10, "0xattacker"); exchange.KindOf(err) != exchange.KindPermission {
		t.Fatalf("withdraw with trade-only key: err = %v, want permission", err)
	}
	if _, err := tr.PlaceOrder(c, "BTC/USDT", "buy", 0.01, 40000); err != nil {
		t.Fatalf("trade with trade-only key: %v", err)
	}
	if w := f.sim.Withdrawals(); len(w) != 0 {
		t.Fatalf("withdrawals = %+v", w)
	}
}

func TestUnavailableSourceAddressIsInvalid(t *testing.T) {
	f := newFixture(t)
	_, err := f.ex.VerifyKey(ctx(t), botCred(f.demo), "192.0.2.1") // TEST-NET-1: not on this host
	if exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("verify from an address this host lacks: err = %v, want invalid (not retried)", err)
	}
}
