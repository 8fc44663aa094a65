package binance_test

import (
	"testing"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/binance"
	"github.com/keyresponse/runbook/integrations/exchange/exchangetest"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/binancesim"
)

// dialect runs the adapter through the real ccxt client against the
// simulator's Binance dialect.
var dialect = exchangetest.Dialect{
	Name:          binance.Name,
	Sim:           func() exchangesim.Dialect { return binancesim.New() },
	Seed:          1,
	SubAccount:    func(a exchangesim.Account) string { return a.Email },
	CreateKeyPath: "/sapi/v2/sub-account/subAccountApi",
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
	if nk.Secret == "" || nk.ID == "" {
		t.Fatalf("new key lacks id or secret")
	}
	simKey, ok := f.Sim.Key("binance", nk.ID)
	if !ok || simKey.Secret != nk.Secret || simKey.Perms.Withdraw || !simKey.Perms.Trade || simKey.Perms.Futures {
		t.Fatalf("simulator has key %+v", simKey.Public())
	}
	if !exchange.SameIPs(simKey.IPs, []string{exchangetest.BotIP}) {
		t.Fatalf("simulator whitelist = %v", simKey.IPs)
	}

	info, err := f.Ex.KeyInfo(c, sub, nk.ID)
	if err != nil || info.Label != "rb-inc1-create" || !exchange.SameIPs(info.IPWhitelist, []string{exchangetest.BotIP}) {
		t.Fatalf("key info = %+v, %v", info, err)
	}

	// Set is a set: two calls, the second replaces the first.
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.11", exchangetest.BotIP}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, []string{"127.0.0.12"}); err != nil {
		t.Fatalf("set whitelist: %v", err)
	}
	if k, _ := f.Sim.Key("binance", nk.ID); !exchange.SameIPs(k.IPs, []string{"127.0.0.12"}) {
		t.Fatalf("whitelist after set = %v, want only 127.0.0.12", k.IPs)
	}
	if _, err := f.Ex.SetIPWhitelist(c, sub, nk.ID, nil); exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("empty whitelist: err = %v, want invalid", err)
	}

	if err := f.Ex.SetPermissions(c, sub, f.Demo.Bot.ID, exchange.Permissions{Read: true, Trade: true}); err != nil {
		t.Fatalf("set permissions: %v", err)
	}
	if k, _ := f.Sim.Key("binance", f.Demo.Bot.ID); k.Perms.Withdraw || !k.Perms.Trade {
		t.Fatalf("permissions after set = %+v", k.Perms)
	}

	if err := f.Ex.RevokeKey(c, sub, nk.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if k, _ := f.Sim.Key("binance", nk.ID); !k.Revoked {
		t.Fatal("key not revoked in the simulator")
	}
	if err := f.Ex.RevokeKey(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("second revoke: err = %v, want not found", err)
	}
	// A wrong sub-account must not look like "already revoked".
	if err := f.Ex.RevokeKey(c, "nobody@sim.invalid", f.Demo.Bot.ID); exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("revoke on unknown sub-account: err = %v, want invalid", err)
	}
	if _, err := f.Ex.KeyInfo(c, sub, nk.ID); !exchange.IsNotFound(err) {
		t.Fatalf("key info of revoked key: err = %v, want not found", err)
	}
}

func TestManagementKeyIsIPBound(t *testing.T) {
	f := newFixture(t)
	cfg := f.Cfg
	cfg.LocalAddr = exchangetest.AttackerIP
	ex, _ := exchange.Open(cfg)
	_, err := ex.ListKeys(exchangetest.Ctx(t), f.Sub())
	if exchange.KindOf(err) != exchange.KindAuthentication {
		t.Fatalf("management key from %s: err = %v, want authentication", exchangetest.AttackerIP, err)
	}
	calls := f.Sim.Calls(exchangesim.CallFilter{Op: "list_keys", ClientIP: exchangetest.AttackerIP})
	if len(calls) != 1 || calls[0].Status != 401 {
		t.Fatalf("simulator saw %+v, want one refused call from %s", calls, exchangetest.AttackerIP)
	}
}

func TestCancelAllOrdersAndVerify(t *testing.T) {
	exchangetest.CancelAllOrdersAndVerify(t, dialect, nil)
}

func TestFaultsAreClassified(t *testing.T) { exchangetest.FaultsAreClassified(t, dialect) }

func TestTradeOnlyKeyCannotWithdraw(t *testing.T) {
	exchangetest.TradeOnlyKeyCannotWithdraw(t, dialect)
}

func TestUnavailableSourceAddressIsInvalid(t *testing.T) {
	f := newFixture(t)
	_, err := f.Ex.VerifyKey(exchangetest.Ctx(t), f.BotCred(), "192.0.2.1") // TEST-NET-1: not on this host
	if exchange.KindOf(err) != exchange.KindInvalid {
		t.Fatalf("verify from an address this host lacks: err = %v, want invalid (not retried)", err)
	}
}

func TestReusedClientsClassifyLikeFresh(t *testing.T) {
	exchangetest.ReusedClientsClassifyLikeFresh(t, dialect)
}

func TestClientsAreReused(t *testing.T) { exchangetest.ClientsAreReused(t, dialect) }

func TestLockoutRequests(t *testing.T) { exchangetest.LockoutRequests(t, dialect, 1) }
