package exchangetest

import (
	"errors"
	"testing"
	"time"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
	"github.com/keyresponse/runbook/integrations/exchangesim"
)

// pooled is what every ccxt adapter exposes about its client pool.
type pooled interface{ ClientPool() ccxtutil.PoolStats }

// Pool returns ex's client pool statistics.
func Pool(t *testing.T, ex exchange.Exchange) ccxtutil.PoolStats {
	t.Helper()
	p, ok := ex.(pooled)
	if !ok {
		t.Fatalf("%T has no ClientPool", ex)
	}
	return p.ClientPool()
}

// classified is what the retry policy sees of an error, plus ccxt's own
// error type underneath (which must not drift either).
type classified struct {
	Kind       exchange.Kind
	Code       string
	RetryAfter time.Duration
	CCXTType   string
}

func classify(err error) classified {
	c := classified{Kind: exchange.KindOf(err), Code: Code(err)}
	var e *exchange.Error
	if errors.As(err, &e) {
		c.RetryAfter = e.RetryAfter
	}
	var ce *ccxt.Error
	if errors.As(err, &ce) {
		c.CCXTType = string(ce.Type)
	}
	return c
}

// openWithTimeout opens another adapter on the fixture's simulator with a
// short per-request timeout (for the timeout case).
func (f *Fixture) openWithTimeout(t *testing.T, timeout time.Duration) exchange.Exchange {
	t.Helper()
	cfg := f.Cfg
	cfg.Options = map[string]any{"timeout_ms": float64(timeout.Milliseconds())}
	ex, err := exchange.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	return ex
}

// ReusedClientsClassifyLikeFresh makes the same failing calls on a fresh
// client and on a pooled client that has already succeeded (with the
// management key and with the bot's key, private calls included) and
// checks that they classify the same: rate limit with Retry-After, 5xx,
// timeout, dropped connection, connection dropped after the exchange acted,
// and authentication after the key was revoked behind the adapter's back.
func ReusedClientsClassifyLikeFresh(t *testing.T, d Dialect) {
	f := New(t, d)
	c := Ctx(t)
	const timeout = 300 * time.Millisecond
	cases := []struct {
		name   string
		faults exchangesim.Faults
		want   exchange.Kind
	}{
		{"rate_limit", exchangesim.Faults{RateLimit: 1, RetryAfter: 3 * time.Second}, exchange.KindRateLimited},
		{"server_error", exchangesim.Faults{ServerError: 1}, exchange.KindUnavailable},
		{"drop", exchangesim.Faults{Drop: 1}, exchange.KindNetwork},
		{"drop_after", exchangesim.Faults{DropAfter: 1}, exchange.KindNetwork},
		{"timeout", exchangesim.Faults{Slow: 1, SlowDelay: 3 * timeout}, exchange.KindNetwork},
	}
	bot := f.BotCred()
	// warm makes successful calls on the clients the failing call will
	// reuse (and on the bot's, whose private calls set ccxt state).
	warm := func(ex exchange.Exchange) {
		t.Helper()
		for i := 0; i < 2; i++ {
			if _, err := ex.ListKeys(c, f.Sub()); err != nil {
				t.Fatalf("warm-up list keys: %v", err)
			}
			if _, err := ex.CancelAllOrders(c, bot, nil); err != nil {
				t.Fatalf("warm-up cancel: %v", err)
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fail := func(ex exchange.Exchange) classified {
				f.Sim.SetFaults(tc.faults)
				defer f.Sim.SetFaults(exchangesim.Faults{})
				_, err := ex.ListKeys(c, f.Sub())
				return classify(err)
			}
			fresh := fail(f.openWithTimeout(t, timeout))
			reusedEx := f.openWithTimeout(t, timeout)
			warm(reusedEx)
			built := Pool(t, reusedEx).Built()
			reused := fail(reusedEx)
			if Pool(t, reusedEx).Built() != built {
				t.Fatal("the failing call did not run on the pooled client")
			}
			if fresh.Kind != tc.want {
				t.Fatalf("fresh client: %+v, want kind %s", fresh, tc.want)
			}
			if reused != fresh {
				t.Fatalf("reused client classified %+v, fresh %+v", reused, fresh)
			}
			// The adapter still works after the failure.
			if _, err := reusedEx.ListKeys(c, f.Sub()); err != nil {
				t.Fatalf("after %s: %v", tc.name, err)
			}
		})
	}
	t.Run("authentication", func(t *testing.T) {
		reusedEx := f.openWithTimeout(t, timeout)
		warm(reusedEx)
		if err := f.Sim.RevokeKey(d.Name, bot.APIKey); err != nil {
			t.Fatal(err)
		}
		_, err := reusedEx.CancelAllOrders(c, bot, nil)
		reused := classify(err)
		_, err = f.openWithTimeout(t, timeout).CancelAllOrders(c, bot, nil)
		fresh := classify(err)
		if fresh.Kind != exchange.KindAuthentication || reused != fresh {
			t.Fatalf("revoked key: reused client %+v, fresh %+v, want both authentication", reused, fresh)
		}
		if n := Pool(t, reusedEx).Idle(bot.APIKey); n != 0 {
			t.Fatalf("%d idle clients kept for a key the exchange refused", n)
		}
	})
}

// ClientsAreReused: repeated management calls build one ccxt client, and
// revoking a key drops the pooled clients that used it.
func ClientsAreReused(t *testing.T, d Dialect) {
	f := New(t, d)
	c := Ctx(t)
	p := Pool(t, f.Ex)
	for i := 0; i < 5; i++ {
		if _, err := f.Ex.ListKeys(c, f.Sub()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Ex.SetIPWhitelist(c, f.Sub(), f.Demo.Bot.ID, []string{BotIP}); err != nil {
		t.Fatal(err)
	}
	if p.Built() != 1 {
		t.Fatalf("built %d clients for 6 management operations, want 1", p.Built())
	}
	bot := f.BotCred()
	for i := 0; i < 3; i++ {
		if _, err := f.Ex.VerifyKey(c, bot, BotIP); err != nil {
			t.Fatal(err)
		}
	}
	if p.Built() != 2 || p.Idle(bot.APIKey) != 1 {
		t.Fatalf("built %d clients (idle for the bot key %d), want 2 (1)", p.Built(), p.Idle(bot.APIKey))
	}
	if err := f.Ex.RevokeKey(c, f.Sub(), bot.APIKey); err != nil {
		t.Fatal(err)
	}
	if n := p.Idle(bot.APIKey); n != 0 {
		t.Fatalf("%d pooled clients kept for a revoked key", n)
	}
}

// LockoutRequests restricts the demo bot's key (no whitelist: the leaked
// key's usual state) and checks how many requests it took and what the
// simulator saw: wantFirst requests for the first restriction (the
// simulator must refuse the attacker afterwards), and a repeat is still
// right.
func LockoutRequests(t *testing.T, d Dialect, wantFirst int) {
	f := New(t, d)
	c := Ctx(t)
	f.Sim.ResetCalls()
	ch, err := f.Ex.SetIPWhitelist(c, f.Sub(), f.Demo.Bot.ID, []string{BotIP, EngineIP})
	if err != nil {
		t.Fatal(err)
	}
	calls := f.Sim.Calls(exchangesim.CallFilter{})
	if ch.Calls != wantFirst || len(calls) != wantFirst {
		t.Fatalf("lockout took %d requests (simulator saw %d: %+v), want %d", ch.Calls, len(calls), calls, wantFirst)
	}
	if !exchange.SameIPs(ch.Now, []string{BotIP, EngineIP}) || !ch.Changed {
		t.Fatalf("change = %+v", ch)
	}
	if ch.PreviousKnown && len(ch.Previous) != 0 {
		t.Fatalf("previous = %v, want none (the demo key had no whitelist)", ch.Previous)
	}
	if k, _ := f.Sim.Key(d.Name, f.Demo.Bot.ID); !exchange.SameIPs(k.IPs, []string{BotIP, EngineIP}) {
		t.Fatalf("simulator whitelist = %v", k.IPs)
	}
	if _, err := f.Trader(f.BotCred(), AttackerIP).PlaceOrder(c, "BTC/USDT", "buy", 0.01, 40000); err == nil {
		t.Fatal("attacker still trades after the lockout")
	}
	ch, err = f.Ex.SetIPWhitelist(c, f.Sub(), f.Demo.Bot.ID, []string{BotIP, EngineIP})
	if err != nil || !exchange.SameIPs(ch.Now, []string{BotIP, EngineIP}) {
		t.Fatalf("repeat = %+v, %v", ch, err)
	}
	// Narrowing drops the extra address (the attacker's, say) and reports it.
	ch, err = f.Ex.SetIPWhitelist(c, f.Sub(), f.Demo.Bot.ID, []string{BotIP})
	if err != nil || !exchange.SameIPs(ch.Now, []string{BotIP}) {
		t.Fatalf("narrow = %+v, %v", ch, err)
	}
	if ch.PreviousKnown && !exchange.SameIPs(ch.Previous, []string{BotIP, EngineIP}) ||
		!ch.PreviousKnown && len(ch.Previous) > 0 && !exchange.SameIPs(ch.Previous, []string{EngineIP}) {
		t.Fatalf("narrow reported previous %v (known %v)", ch.Previous, ch.PreviousKnown)
	}
	if k, _ := f.Sim.Key(d.Name, f.Demo.Bot.ID); !exchange.SameIPs(k.IPs, []string{BotIP}) {
		t.Fatalf("simulator whitelist after narrowing = %v", k.IPs)
	}
	if _, err := f.Ex.SetIPWhitelist(c, f.Sub(), "no-such-key", []string{BotIP}); !exchange.IsNotFound(err) {
		t.Fatalf("unknown key: err = %v, want not found", err)
	}
}
