package exchange_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/keyresponse/runbook/activities"
	exact "github.com/keyresponse/runbook/activities/exchange"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchange/ccxtutil"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/runbooks"
)

// fleet is a simulator with n bot sub-accounts under the demo main
// account, each with one sloppy key (trade + withdraw, no whitelist).
type fleet struct {
	sim  *exchangesim.Sim
	mgmt xchg.Credential
	url  string
	subs []exchangesim.Account
	keys []exchangesim.Key
}

func newFleet(t testing.TB, n int) *fleet {
	t.Helper()
	dc := dialectCases[0]
	sim := exchangesim.New(exchangesim.Options{Seed: 11, Dialects: []exchangesim.Dialect{dc.dialect()}})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	d, err := sim.SeedDemo(exchangesim.DemoOptions{EngineIPs: []string{engineIP}})
	if err != nil {
		t.Fatal(err)
	}
	demo, _ := d.Find(dc.name)
	f := &fleet{sim: sim, url: sim.DialectURL(dc.name),
		mgmt: xchg.Credential{APIKey: demo.Management.ID, Secret: demo.Management.Secret}}
	for i := 0; i < n; i++ {
		sub, err := sim.CreateAccount(dc.name, fmt.Sprintf("fleet-bot-%03d", i), demo.Main.ID)
		if err != nil {
			t.Fatal(err)
		}
		k, err := sim.CreateKey(exchangesim.KeySpec{Exchange: dc.name, Account: sub.ID, Label: "bot",
			Perms: exchangesim.Perms{Read: true, Trade: true, Withdraw: true}})
		if err != nil {
			t.Fatal(err)
		}
		f.subs = append(f.subs, sub)
		f.keys = append(f.keys, k)
	}
	return f
}

func (f *fleet) open(t testing.TB, baseURL string) xchg.Exchange {
	t.Helper()
	ex, err := xchg.Open(xchg.Config{Exchange: "binance", BaseURL: baseURL, LocalAddr: engineIP, Management: f.mgmt,
		Options: map[string]any{"timeout_ms": float64(2000)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	return ex
}

func fleetIP(i int) string { return fmt.Sprintf("10.1.%d.%d", i/250, i%250+1) }

// targets: every key restricted to its own address, except every revokeEvery-th
// (0 = none), revoked as on a suspect host; account(i) names the exchange account.
func (f *fleet) targets(revokeEvery int, account func(i int) string) []any {
	var out []any
	for i, k := range f.keys {
		t := map[string]any{"exchange": account(i), "sub_account": f.subs[i].Email, "key_id": k.ID,
			"ips": []any{fleetIP(i), engineIP}}
		if revokeEvery > 0 && i%revokeEvery == 0 {
			t = map[string]any{"exchange": account(i), "sub_account": f.subs[i].Email, "key_id": k.ID, "revoke": true}
		}
		out = append(out, t)
	}
	return out
}

// contained checks the simulator: each key restricted to exactly its
// addresses, or revoked.
func (f *fleet) contained(t *testing.T, revokeEvery int) {
	t.Helper()
	for i, k := range f.keys {
		got, _ := f.sim.Key("binance", k.ID)
		if revokeEvery > 0 && i%revokeEvery == 0 {
			if !got.Revoked {
				t.Errorf("key %d not revoked", i)
			}
			continue
		}
		if got.Revoked || !xchg.SameIPs(got.IPs, []string{fleetIP(i), engineIP}) {
			t.Errorf("key %d: revoked=%v whitelist %v, want %s,%s", i, got.Revoked, got.IPs, fleetIP(i), engineIP)
		}
	}
}

// 200 keys on 200 sub-accounts in one call, under injected 429s, 5xx,
// dropped connections and answers lost after the exchange acted: every key
// ends restricted (or revoked), each over one exchange account's pool.
func TestRestrictKeysFleetUnderFaults(t *testing.T) {
	f := newFleet(t, 200)
	ex := f.open(t, f.url)
	reg, err := activities.NewRegistry(exact.Actions(exact.Deps{
		Exchanges: func(context.Context, string) (xchg.Exchange, error) { return ex, nil }})...)
	if err != nil {
		t.Fatal(err)
	}
	f.sim.SetFaults(exchangesim.Faults{RateLimit: 0.04, ServerError: 0.04, Drop: 0.04, DropAfter: 0.04,
		RetryAfter: time.Second, PathPrefixes: []string{"/sapi/"}, Seed: 5})
	params := map[string]any{"targets": f.targets(20, func(int) string { return "binance" }), "concurrency": 32}
	var res runbooks.ActionResult
	attempts := 0
	for attempts = 1; attempts <= 10; attempts++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err = reg.Run(ctx, runbooks.ActionRequest{IncidentID: "fleet-1", StepID: "lock", Action: "exchange.restrict_keys", Params: params})
		cancel()
		if err == nil {
			break
		}
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || ae.Type() != exact.ErrPartialFailure || ae.NonRetryable() {
			t.Fatalf("attempt %d: %v, want a retryable partial failure", attempts, err)
		}
	}
	if err != nil {
		t.Fatalf("still failing after %d attempts: %v", attempts, err)
	}
	f.sim.SetFaults(exchangesim.Faults{})
	injected := f.sim.InjectedFaults()
	if injected[exchangesim.FaultRateLimit] == 0 || injected[exchangesim.FaultServerError] == 0 ||
		injected[exchangesim.FaultDrop] == 0 || injected[exchangesim.FaultDropAfter] == 0 {
		t.Fatalf("faults injected %v: the test did not exercise every kind", injected)
	}
	f.contained(t, 20)
	if res.Outputs["done"] != 200 || res.Outputs["revoked"].(int)+res.Outputs["already_absent"].(int) != 10 ||
		res.Outputs["restricted"] != 190 {
		t.Fatalf("outputs = %v", res.Outputs)
	}
	// A client is built per concurrent lease, and again after each failed
	// call (a failed client is never reused), not per request.
	faults := 0
	for _, n := range injected {
		faults += n
	}
	if n := exchangetestBuilt(ex); n > 32+faults {
		t.Fatalf("built %d ccxt clients for 200 keys at concurrency 32 with %d faults", n, faults)
	}
	t.Logf("attempts %d, faults %v, requests %v, clients built %d", attempts, injected, res.Outputs["requests"], exchangetestBuilt(ex))
}

func exchangetestBuilt(ex xchg.Exchange) int {
	return ex.(interface{ ClientPool() ccxtutil.PoolStats }).ClientPool().Built()
}

// A retry after partial progress skips the keys the heartbeat says are
// done: the exchange sees no second request for them.
func TestRestrictKeysRetrySkipsDone(t *testing.T) {
	f := newFleet(t, 200)
	good := f.open(t, f.url)
	dead := f.open(t, "http://127.0.0.1:1/binance") // nothing listens: connection refused
	var down atomic.Bool
	down.Store(true)
	reg, err := activities.NewRegistry(exact.Actions(exact.Deps{
		Exchanges: func(_ context.Context, name string) (xchg.Exchange, error) {
			if name == "binance-b" && down.Load() {
				return dead, nil
			}
			return good, nil
		}})...)
	if err != nil {
		t.Fatal(err)
	}
	account := func(i int) string {
		if i%4 == 0 {
			return "binance-b" // 50 keys behind an account that is down at first
		}
		return "binance"
	}
	req := runbooks.ActionRequest{IncidentID: "fleet-2", StepID: "lock", Action: "exchange.restrict_keys",
		Params: map[string]any{"targets": f.targets(0, account)}}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	reg.RegisterWith(env)
	var mu sync.Mutex
	var last exact.RestrictProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p exact.RestrictProgress
		if d.Get(&p) == nil {
			mu.Lock()
			if p.Done > last.Done {
				last = p
			}
			mu.Unlock()
		}
	})
	_, err = env.ExecuteActivity("exchange.restrict_keys", req)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != exact.ErrPartialFailure || ae.NonRetryable() {
		t.Fatalf("first attempt: %v, want a retryable partial failure", err)
	}
	var details map[string]any
	if ae.Details(&details) != nil || len(details["failed"].([]any)) != 50 {
		t.Fatalf("failure details = %v, want 50 failed keys", details)
	}
	mu.Lock()
	prog := last
	mu.Unlock()
	if prog.Done != 150 || len(prog.DoneIdx) != 150 {
		t.Fatalf("last heartbeat = %d done (%d indexes), want 150", prog.Done, len(prog.DoneIdx))
	}
	for _, i := range prog.DoneIdx {
		if i%4 == 0 {
			t.Fatalf("heartbeat counts target %d (on the dead account) as done", i)
		}
	}

	// The retry: the account is back; the worker hands the last heartbeat in.
	down.Store(false)
	f.sim.ResetCalls()
	env.SetHeartbeatDetails(prog)
	val, err := env.ExecuteActivity("exchange.restrict_keys", req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	var res runbooks.ActionResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Outputs["done"] != float64(200) || res.Outputs["skipped"] != float64(150) || res.Outputs["restricted"] != float64(50) {
		t.Fatalf("retry outputs = %v, want 200 done, 150 skipped, 50 restricted", res.Outputs)
	}
	calls := f.sim.Calls(exchangesim.CallFilter{})
	if len(calls) != 50 {
		t.Fatalf("retry made %d requests, want 50 (one per remaining key)", len(calls))
	}
	touched := map[string]bool{}
	for _, c := range calls {
		for i, k := range f.keys {
			if strings.Contains(c.Result, k.ID) {
				if i%4 != 0 {
					t.Fatalf("retry redid key %d, done in the first attempt", i)
				}
				touched[k.ID] = true
			}
		}
	}
	if len(touched) != 50 {
		t.Fatalf("retry restricted %d distinct keys, want the 50 left", len(touched))
	}
	f.contained(t, 0)
}

func TestRestrictKeysValidation(t *testing.T) {
	reg, err := activities.NewRegistry(exact.Actions(exact.Deps{})...)
	if err != nil {
		t.Fatal(err)
	}
	tgt := func(key string, ips []any) map[string]any {
		return map[string]any{"exchange": "binance", "sub_account": "s@x", "key_id": key, "ips": ips}
	}
	for name, params := range map[string]map[string]any{
		"no targets":      {"targets": []any{}},
		"empty ips":       {"targets": []any{tgt("k1", []any{})}},
		"duplicate key":   {"targets": []any{tgt("k1", []any{"1.2.3.4"}), tgt("k1", []any{"1.2.3.5"})}},
		"concurrency 65":  {"targets": []any{tgt("k1", []any{"1.2.3.4"})}, "concurrency": 65},
		"unknown field":   {"targets": []any{map[string]any{"exchange": "binance", "sub_account": "s", "key_id": "k", "ips": []any{"1.2.3.4"}, "secret": "x"}}},
		"missing key id":  {"targets": []any{map[string]any{"exchange": "binance", "sub_account": "s", "ips": []any{"1.2.3.4"}}}},
		"negative concur": {"targets": []any{tgt("k1", []any{"1.2.3.4"})}, "concurrency": -1},
	} {
		_, err := reg.Run(context.Background(), runbooks.ActionRequest{Action: "exchange.restrict_keys", Params: params})
		if activities.ErrorType(err) != activities.ErrInvalidParams {
			t.Errorf("%s: err = %v, want InvalidParams", name, err)
		}
	}
}

// exchange.set_ip_whitelist on a leaked key without whitelist: the lockout
// is the first and only request the exchange sees (no list or read before
// it), and the outputs say the previous list was not read.
func TestSetIPWhitelistWritesFirst(t *testing.T) {
	w := newWorld(t, dialectCases[0], 9)
	w.sim.ResetCalls()
	res, err := w.run(t, "lockout", "exchange.set_ip_whitelist", map[string]any{
		"exchange": w.ex, "sub_account": w.subRef, "key_id": w.demo.Bot.ID, "ips": []any{botIP, engineIP}})
	if err != nil {
		t.Fatal(err)
	}
	calls := w.sim.Calls(exchangesim.CallFilter{})
	if len(calls) != 1 || calls[0].Op != "set_ip_whitelist" {
		t.Fatalf("exchange saw %+v, want the one set_ip_whitelist request", calls)
	}
	o := res.Outputs
	if !xchg.SameIPs(o["ip_whitelist"].([]string), []string{botIP, engineIP}) || o["previous_known"] != false ||
		o["requests"] != 1 || o["changed"] != true {
		t.Fatalf("outputs = %v", o)
	}
	// Narrowing reports the address it removed.
	res, err = w.run(t, "narrow", "exchange.set_ip_whitelist", map[string]any{
		"exchange": w.ex, "sub_account": w.subRef, "key_id": w.demo.Bot.ID, "ips": []any{botIP}})
	if err != nil || !xchg.SameIPs(res.Outputs["previous_ip_whitelist"].([]string), []string{engineIP}) || res.Outputs["requests"] != 2 {
		t.Fatalf("narrow = %v, %v", res.Outputs, err)
	}
	if k, _ := w.sim.Key(w.ex, w.demo.Bot.ID); !xchg.SameIPs(k.IPs, []string{botIP}) {
		t.Fatalf("simulator whitelist = %v", k.IPs)
	}
}

// A rotated management secret: the resolver re-reads the reference and
// opens a new adapter, so no pooled client keeps using the old secret; an
// unchanged secret keeps the adapter (and its pooled clients).
func TestResolverDropsRotatedManagementSecret(t *testing.T) {
	defer exact.SetManagementRefresh(0)()
	w := newWorld(t, dialectCases[0], 13)
	resolve := exact.ConfigResolver(map[string]xchg.Config{w.ex: w.cfg}, w.store)
	ctx := context.Background()
	ex1, err := resolve(ctx, w.ex)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ex1.ListKeys(ctx, w.subRef); err != nil {
		t.Fatal(err)
	}
	if ex2, err := resolve(ctx, w.ex); err != nil || ex2 != ex1 {
		t.Fatalf("unchanged secret: got a new adapter (%v)", err)
	}
	// Rotate: a new version of the reference (here a secret the exchange
	// does not know, so the old one being used would show as success).
	if _, err := w.store.Put(ctx, w.ex+"/management", exact.EncodeCredential(xchg.Credential{
		APIKey: w.demo.Management.ID, Secret: "rotated-" + w.demo.Management.Secret}), nil); err != nil {
		t.Fatal(err)
	}
	ex3, err := resolve(ctx, w.ex)
	if err != nil || ex3 == ex1 {
		t.Fatalf("rotated secret: same adapter kept (%v)", err)
	}
	if _, err := ex3.ListKeys(ctx, w.subRef); xchg.KindOf(err) != xchg.KindAuthentication {
		t.Fatalf("list keys with the rotated (unknown) secret: err = %v, want authentication", err)
	}
	if n := exchangetestBuilt(ex1); n != 1 {
		t.Fatalf("old adapter built %d clients", n)
	}
	if ex1.(interface{ ClientPool() ccxtutil.PoolStats }).ClientPool().Idle(w.demo.Management.ID) != 0 {
		t.Fatal("old adapter still holds clients on the old secret")
	}
}
