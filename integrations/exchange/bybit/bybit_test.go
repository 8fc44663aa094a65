package bybit_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/bybit"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/bybitsim"
)

// The adapter runs through the real ccxt client against the simulator's
// Bybit dialect; clients bind distinct loopback source addresses so the
// simulator's whitelist (TCP peer) sees engine, bot and attacker apart.
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
	sim := exchangesim.New(exchangesim.Options{Seed: 7, Dialects: []exchangesim.Dialect{bybitsim.New()}})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	d, err := sim.SeedDemo(exchangesim.DemoOptions{EngineIPs: []string{engineIP}})
	if err != nil {
		t.Fatal(err)
	}
	demo, _ := d.Find(bybit.Name)
	cfg := exchange.Config{
		Exchange:   bybit.Name,
		BaseURL:    sim.DialectURL(bybit.Name),
		LocalAddr:  engineIP,
		Management: exchange.Credential{APIKey: demo.Management.ID, Secret: demo.Management.Secret},
	}
	ex, err := exchange.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{sim: sim, demo: demo, ex: ex, cfg: cfg}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func botCred(d exchangesim.DemoAccount) exchange.Credential {
	return exchange.Credential{APIKey: d.Bot.ID, Secret: d.Bot.Secret}
}

func cred(k exchangesim.Key) exchange.Credential {
	return exchange.Credential{APIKey: k.ID, Secret: k.Secret}
}

func trader(f *fixture, cred exchange.Credential, from string) exchange.Trader {
	return f.ex.(exchange.TraderProvider).Trader(cred, from)
}

func code(err error) string {
	var e *exchange.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestKeyLifecycle(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	sub := f.demo.Sub.UID

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
	if nk.ID == "" || nk.Secret == "" {
		t.Fatal("new key lacks id or secret")
	}
	sk, found := f.sim.Key(bybit.Name, nk.ID)
	if !found || sk.Secret != nk.Secret || !sk.Perms.Trade || sk.Perms.Futures || sk.Perms.Withdraw ||
		!exchange.SameIPs(sk.IPs, []string{botIP}) || sk.Account != f.demo.Sub.ID || sk.Label != "rb-inc1-create" {
		t.Fatalf("simulator has key %+v", sk.Public())
	}
	info, err := f.ex.KeyInfo(c, sub, nk.ID)
	if err != nil || info.Label != "rb-inc1-create" || !info.Permissions.Trade || info.Permissions.Withdraw ||
		info.Permissions.Futures || !exchange.SameIPs(info.IPWhitelist, []string{botIP}) {
		t.Fatalf("key info = %+v, %v", info, err)
	}

	// The whitelist is a set: the second call replaces the first, and the
	// key stays read-write (update-sub-api's readOnly defaults to 0 only
	// because the adapter sends it).
	if err := f.ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.11", botIP}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if err := f.ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.12"}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if k, _ := f.sim.Key(bybit.Name, nk.ID); !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) || !k.Perms.Trade {
		t.Fatalf("after set: ips %v perms %+v, want only 127.0.0.12 and trade kept", k.IPs, k.Perms)
	}
	if err := f.ex.SetIPWhitelist(c, sub, nk.ID, nil); exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("empty whitelist: err = %v, want invalid", err)
	}
	if calls := f.sim.Calls(exchangesim.CallFilter{Op: "set_ip_whitelist", OnlyOK: true}); len(calls) != 2 {
		t.Fatalf("set_ip_whitelist calls = %d, want 2 (the empty list never sent)", len(calls))
	}

	// Permissions change keeps the whitelist (an update without ips would
	// unbind the key on Bybit).
	if err := f.ex.SetPermissions(c, sub, nk.ID, exchange.Permissions{Read: true}); err != nil {
		t.Fatalf("set permissions: %v", err)
	}
	if k, _ := f.sim.Key(bybit.Name, nk.ID); k.Perms.Trade || !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) {
		t.Fatalf("after read-only: %+v ips %v", k.Perms, k.IPs)
	}
	if err := f.ex.SetPermissions(c, sub, nk.ID, exchange.Permissions{Read: true, Trade: true}); err != nil {
		t.Fatalf("set permissions: %v", err)
	}
	if k, _ := f.sim.Key(bybit.Name, nk.ID); !k.Perms.Trade || k.Perms.Withdraw || !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) {
		t.Fatalf("after trade: %+v ips %v", k.Perms, k.IPs)
	}

	if err := f.ex.RevokeKey(c, sub, nk.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if k, _ := f.sim.Key(bybit.Name, nk.ID); !k.Revoked {
		t.Fatal("key not revoked in the simulator")
	}
	if err := f.ex.RevokeKey(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("second revoke: err = %v, want not found", err)
	}
	if _, err := f.ex.KeyInfo(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("key info of revoked key: err = %v, want not found", err)
	}
	// A wrong sub-account must not look like "already revoked".
	for _, bad := range []string{"999999", f.demo.Sub.Name} {
		if err := f.ex.RevokeKey(c, bad, f.demo.Bot.ID); exchange.KindOf(err) != exchange.KindInvalid {
			t.Fatalf("revoke on sub-account %q: err = %v, want invalid", bad, err)
		}
	}
}

func TestManagementKeyRules(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	cfg := f.cfg
	cfg.LocalAddr = attackerIP
	ex, _ := exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.demo.Sub.UID); exchange.KindOf(err) != exchange.KindPermission ||
		code(err) != strconv.Itoa(bybitsim.CodeIPRefused) {
		t.Fatalf("management key from %s: err = %v, want permission 10010", attackerIP, err)
	}
	// A sub-account key cannot manage sub keys (10005).
	cfg = f.cfg
	cfg.Management = botCred(f.demo)
	ex, _ = exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.demo.Sub.UID); exchange.KindOf(err) != exchange.KindPermission ||
		code(err) != strconv.Itoa(bybitsim.CodeNoPermission) {
		t.Fatalf("list with a sub key: err = %v, want permission 10005", err)
	}
	// A wrong secret is an authentication failure (10004).
	cfg.Management = exchange.Credential{APIKey: f.demo.Management.ID, Secret: "wrong"}
	ex, _ = exchange.Open(cfg)
	if _, err := ex.ListKeys(c, f.demo.Sub.UID); exchange.KindOf(err) != exchange.KindAuthentication ||
		code(err) != strconv.Itoa(bybitsim.CodeBadSign) {
		t.Fatalf("wrong secret: err = %v, want authentication 10004", err)
	}
}

func TestCancelAllOrdersAndVerify(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	bot := botCred(f.demo)
	if _, err := trader(f, bot, botIP).PlaceOrder(c, "ETH/USDT", "sell", 1, 3500); err != nil {
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
	res, err = f.ex.CancelAllOrders(c, bot, nil)
	if err != nil || len(res.Cancelled) != 0 {
		t.Fatalf("second cancel all = %+v, %v", res, err)
	}
	// Only the named symbol.
	tr := trader(f, bot, botIP)
	for _, s := range []string{"ETH/USDT", "SOL/USDT"} {
		if _, err := tr.PlaceOrder(c, s, "buy", 1, 10); err != nil {
			t.Fatalf("place order: %v", err)
		}
	}
	res, err = f.ex.CancelAllOrders(c, bot, []string{"SOL/USDT"})
	if err != nil || len(res.Cancelled) != 1 || len(f.sim.OpenOrders(f.demo.Sub.ID, "ETHUSDT")) != 1 {
		t.Fatalf("cancel SOL/USDT only = %+v, %v", res, err)
	}

	v, err := f.ex.VerifyKey(c, bot, botIP)
	if err != nil || !v.Authenticated || !v.Permissions.Trade || !v.Permissions.Withdraw || len(v.IPWhitelist) != 0 {
		t.Fatalf("verify demo bot key = %+v, %v", v, err)
	}
	calls := f.sim.Calls(exchangesim.CallFilter{Op: "api_restrictions", KeyID: bot.APIKey})
	if len(calls) != 1 || calls[0].ClientIP != botIP {
		t.Fatalf("verify calls = %+v, want one from %s", calls, botIP)
	}
	v, err = f.ex.VerifyKey(c, exchange.Credential{APIKey: "nope", Secret: "nope"}, "")
	if err != nil || v.Authenticated || v.Rejection != exchange.KindAuthentication {
		t.Fatalf("verify unknown key = %+v, %v", v, err)
	}
}

func TestTradeOnlyKeyCannotWithdraw(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	nk, err := f.ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: f.demo.Sub.UID, Label: "trade-only",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{botIP}})
	if err != nil {
		t.Fatal(err)
	}
	tr := trader(f, nk.Credential(), botIP)
	if _, err := tr.Withdraw(c, "USDT", 10, "0xattacker"); exchange.KindOf(err) != exchange.KindPermission {
		t.Fatalf("withdraw with trade-only key: err = %v, want permission", err)
	}
	if _, err := tr.PlaceOrder(c, "BTC/USDT", "buy", 0.01, 40000); err != nil {
		t.Fatalf("trade with trade-only key: %v", err)
	}
	if w := f.sim.Withdrawals(); len(w) != 0 {
		t.Fatalf("withdrawals = %+v", w)
	}
	v, err := f.ex.VerifyKey(c, nk.Credential(), botIP)
	if err != nil || !v.Authenticated || v.Permissions.Withdraw || v.Permissions.Futures || !v.Permissions.Trade {
		t.Fatalf("verify trade-only key = %+v, %v", v, err)
	}
}

func TestSelfRevoke(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	if !f.ex.Capabilities().SelfRevoke {
		t.Fatal("Bybit adapter should offer self-revoke")
	}
	// The leaked demo bot key holds a Wallet transfer right, so it can
	// delete itself — the emergency path when only the leaked key is at hand.
	leaked := botCred(f.demo)
	if err := f.ex.SelfRevoke(c, leaked); err != nil {
		t.Fatalf("self-revoke of the leaked sub key: %v", err)
	}
	if k, _ := f.sim.Key(bybit.Name, leaked.APIKey); !k.Revoked {
		t.Fatal("leaked key still live after self-revoke")
	}
	calls := f.sim.Calls(exchangesim.CallFilter{Op: "self_revoke", KeyID: leaked.APIKey, OnlyOK: true})
	if len(calls) != 1 || calls[0].Path != "/v5/user/delete-sub-api" {
		t.Fatalf("self-revoke calls = %+v, want one delete-sub-api with the leaked key", calls)
	}
	if _, err := trader(f, leaked, attackerIP).PlaceOrder(c, "BTC/USDT", "sell", 0.5, 70000); exchange.KindOf(err) != exchange.KindAuthentication {
		t.Fatalf("attacker after self-revoke: err = %v, want authentication", err)
	}
	if err := f.ex.SelfRevoke(c, leaked); !exchange.IsNotFound(err) {
		t.Fatalf("second self-revoke: err = %v, want not found", err)
	}

	// A trade-only key cannot delete itself: permission, and it stays.
	nk, err := f.ex.CreateKey(c, exchange.CreateKeyRequest{SubAccount: f.demo.Sub.UID, Label: "trade-only",
		Permissions: exchange.Permissions{Read: true, Trade: true}, IPWhitelist: []string{engineIP}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ex.SelfRevoke(c, nk.Credential()); exchange.KindOf(err) != exchange.KindPermission {
		t.Fatalf("self-revoke of a trade-only key: err = %v, want permission", err)
	}
	if k, _ := f.sim.Key(bybit.Name, nk.ID); k.Revoked {
		t.Fatal("trade-only key was revoked")
	}

	// A leaked main-account key with withdrawal rights deletes itself with
	// delete-api.
	mainKey, err := f.sim.CreateKey(exchangesim.KeySpec{Exchange: bybit.Name, Account: f.demo.Main.ID, Label: "main",
		Perms: exchangesim.Perms{Read: true, Trade: true, Withdraw: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ex.SelfRevoke(c, cred(mainKey)); err != nil {
		t.Fatalf("self-revoke of a main key: %v", err)
	}
	if k, _ := f.sim.Key(bybit.Name, mainKey.ID); !k.Revoked {
		t.Fatal("main key still live")
	}
	if calls := f.sim.Calls(exchangesim.CallFilter{KeyID: mainKey.ID, Path: "/v5/user/delete-api", OnlyOK: true}); len(calls) != 1 {
		t.Fatalf("delete-api calls = %+v, want one", calls)
	}
}

func TestFaultsAreClassified(t *testing.T) {
	f := newFixture(t)
	c := ctx(t)
	f.sim.SetFaults(exchangesim.Faults{RateLimit: 1, RetryAfter: 3 * time.Second})
	_, err := f.ex.ListKeys(c, f.demo.Sub.UID)
	var e *exchange.Error
	if !errors.As(err, &e) || e.Kind != exchange.KindRateLimited || e.RetryAfter != 3*time.Second {
		t.Fatalf("err = %v, want rate limited with Retry-After 3s", err)
	}
	f.sim.SetFaults(exchangesim.Faults{ServerError: 1})
	if _, err := f.ex.ListKeys(c, f.demo.Sub.UID); exchange.KindOf(err) != exchange.KindUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	f.sim.SetFaults(exchangesim.Faults{Drop: 1})
	if _, err := f.ex.ListKeys(c, f.demo.Sub.UID); exchange.KindOf(err) != exchange.KindNetwork {
		t.Fatalf("err = %v, want network", err)
	}
	f.sim.SetFaults(exchangesim.Faults{})
	if _, err := f.ex.ListKeys(c, f.demo.Sub.UID); err != nil {
		t.Fatalf("after faults: %v", err)
	}
}
