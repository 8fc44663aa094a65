package binance

import (
	"context"
	"net/http"
	"strings"
	"testing"

	ccxt "github.com/ccxt/ccxt/go/v4"

	"github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/binancesim"
)

// The lockout of exchange.set_ip_whitelist against the simulator on
// 127.0.0.1, the leaked key having no whitelist (each iteration puts it
// back in that state, untimed):
//
//	go test -run '^$' -bench Lockout -benchmem ./integrations/exchange/binance/
//
// Before: what the action did until now — KeyInfo (list keys), then read
// the whitelist, add, read again to verify — each request on a freshly
// built ccxt client without keep-alive. PooledOldSequence: the same four
// requests on pooled clients. After: SetIPWhitelist as it is now (one
// request on a pooled client, verified from the answer).

type benchEnv struct {
	sim  *exchangesim.Sim
	a    *Adapter
	sub  string
	key  string
	want []string
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	sim := exchangesim.New(exchangesim.Options{Seed: 1, Dialects: []exchangesim.Dialect{binancesim.New()}})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sim.Close() })
	d, err := sim.SeedDemo(exchangesim.DemoOptions{EngineIPs: []string{"127.0.0.1"}})
	if err != nil {
		b.Fatal(err)
	}
	demo, _ := d.Find(Name)
	ex, err := Open(exchange.Config{Exchange: Name, BaseURL: sim.DialectURL(Name), LocalAddr: "127.0.0.1",
		Management: exchange.Credential{APIKey: demo.Management.ID, Secret: demo.Management.Secret}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ex.Close() })
	return &benchEnv{sim: sim, a: ex.(*Adapter), sub: demo.Sub.Email, key: demo.Bot.ID, want: []string{"127.0.0.10", "127.0.0.1"}}
}

// unrestrict puts the key back to "any IP" without timing it.
func (e *benchEnv) unrestrict(b *testing.B) {
	b.StopTimer()
	if _, err := e.sim.UpdateKey(Name, e.key, func(k *exchangesim.Key) error { k.IPs = nil; return nil }); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

type rawCall func(ctx context.Context, op, path, api, method string, params map[string]interface{}) (interface{}, error)

// fresh is the old client: a new ccxt client and transport per request.
func (e *benchEnv) fresh(ctx context.Context, op, path, api, method string, params map[string]interface{}) (interface{}, error) {
	tr, err := ccxtutil.NewTransport(e.a.cfg.LocalAddr)
	if err != nil {
		return nil, err
	}
	tr.DisableKeepAlives = true
	ex, err := e.a.build(e.a.cfg.Management, &http.Client{Transport: tr, Timeout: e.a.timeout})
	if err != nil {
		return nil, err
	}
	return e.a.call(ctx, ex, op, path, api, method, params)
}

// pooled makes the request on a pooled management client.
func (e *benchEnv) pooled(ctx context.Context, op, path, api, method string, params map[string]interface{}) (res interface{}, err error) {
	err = e.a.mgmt(ctx, func(ex *ccxt.Binance) error {
		res, err = e.a.call(ctx, ex, op, path, api, method, params)
		return err
	})
	return res, err
}

// oldSequence is the request sequence of the previous action + adapter on
// a key without whitelist: list keys, read, add, read to verify.
func (e *benchEnv) oldSequence(ctx context.Context, call rawCall) error {
	if _, err := call(ctx, "list_keys", "sub-account/subAccountApi", "sapi", "GET", map[string]interface{}{"email": e.sub}); err != nil {
		return err
	}
	key := map[string]interface{}{"email": e.sub, "subAccountApiKey": e.key}
	if _, err := call(ctx, "get_ip_whitelist", "sub-account/subAccountApi/ipRestriction", "sapi", "GET", with(key)); err != nil {
		return err
	}
	if _, err := call(ctx, "set_ip_whitelist", "sub-account/subAccountApi/ipRestriction", "sapiV2", "POST",
		with(key, "status", "2", "ipAddress", strings.Join(exchange.NormalizeIPs(e.want), ","))); err != nil {
		return err
	}
	res, err := call(ctx, "get_ip_whitelist", "sub-account/subAccountApi/ipRestriction", "sapi", "GET", with(key))
	if err != nil {
		return err
	}
	if got, _ := ipList(res); !exchange.SameIPs(got, e.want) {
		return &exchange.Error{Kind: exchange.KindExchange, Exchange: Name, Op: "bench", Message: "not restricted"}
	}
	return nil
}

func BenchmarkLockoutBefore(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.unrestrict(b)
		if err := e.oldSequence(ctx, e.fresh); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLockoutPooledOldSequence(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.unrestrict(b)
		if err := e.oldSequence(ctx, e.pooled); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLockoutAfter(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.unrestrict(b)
		ch, err := e.a.SetIPWhitelist(ctx, e.sub, e.key, e.want)
		if err != nil || ch.Calls != 1 {
			b.Fatalf("lockout: %+v, %v", ch, err)
		}
	}
	if n := e.a.pool.Built(); n != 1 {
		b.Fatalf("built %d clients, want 1", n)
	}
}
