package exchange_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/keyresponse/runbook/activities"
	exact "github.com/keyresponse/runbook/activities/exchange"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/runbooks"
)

const (
	engineIP   = "127.0.0.1"
	botIP      = "127.0.0.10"
	attackerIP = "127.0.0.66"
)

type world struct {
	ex        string // exchange / dialect name
	subRef    string // the sub-account as the exchange names it
	sim       *exchangesim.Sim
	demo      exchangesim.DemoAccount
	store     *secrets.FileStore
	reg       *activities.Registry
	cfg       xchg.Config
	botRef    string // the bot's original (leaked) key in the store
	botSecret string
}

func newWorld(t *testing.T, dc dialectCase, seed int64) *world {
	t.Helper()
	name := dc.name
	sim := exchangesim.New(exchangesim.Options{Seed: seed, Dialects: []exchangesim.Dialect{dc.dialect()}})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	d, err := sim.SeedDemo(exchangesim.DemoOptions{EngineIPs: []string{engineIP}})
	if err != nil {
		t.Fatal(err)
	}
	demo, _ := d.Find(name)
	store, err := secrets.OpenFile(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	// The management credential lives in the store too; the resolver loads it.
	if _, err := store.Put(context.Background(), name+"/management", exact.EncodeCredential(xchg.Credential{
		APIKey: demo.Management.ID, Secret: demo.Management.Secret, Passphrase: demo.Management.Passphrase}), nil); err != nil {
		t.Fatal(err)
	}
	subRef := dc.subRef(demo.Sub)
	botName := exact.DefaultSecretName(name, subRef)
	botRef, err := store.Put(context.Background(), botName, exact.EncodeCredential(xchg.Credential{
		APIKey: demo.Bot.ID, Secret: demo.Bot.Secret, Passphrase: demo.Bot.Passphrase}), map[string]string{"key_id": demo.Bot.ID})
	if err != nil {
		t.Fatal(err)
	}
	cfg := xchg.Config{Exchange: name, BaseURL: sim.DialectURL(name), ManagementKeyRef: name + "/management", LocalAddr: engineIP}
	deps := exact.Deps{
		Exchanges: exact.ConfigResolver(map[string]xchg.Config{name: cfg}, store),
		Secrets:   store,
	}
	reg, err := activities.NewRegistry(exact.Actions(deps)...)
	if err != nil {
		t.Fatal(err)
	}
	return &world{ex: name, subRef: subRef, sim: sim, demo: demo, store: store, reg: reg, cfg: cfg, botRef: botRef.String(), botSecret: demo.Bot.Secret}
}

func (w *world) run(t *testing.T, step, action string, params map[string]any) (runbooks.ActionResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return w.reg.Run(ctx, runbooks.ActionRequest{IncidentID: "inc-42", Runbook: "contain-key-breach", StepID: step, Action: action, Params: params})
}

// runRetrying runs an action the way the workflow's retry policy would:
// retry retryable errors, stop at non-retryable ones.
func (w *world) runRetrying(t *testing.T, step, action string, params map[string]any) (runbooks.ActionResult, int) {
	t.Helper()
	for attempt := 1; attempt <= 60; attempt++ {
		res, err := w.run(t, step, action, params)
		if err == nil {
			return res, attempt
		}
		var ae *temporal.ApplicationError
		if !errors.As(err, &ae) || ae.NonRetryable() {
			t.Fatalf("%s: non-retryable failure on attempt %d: %v", action, attempt, err)
		}
	}
	t.Fatalf("%s: still failing after 60 attempts", action)
	return runbooks.ActionResult{}, 0
}

func (w *world) trader(t *testing.T, cred xchg.Credential, from string) xchg.Trader {
	t.Helper()
	cfg := w.cfg
	cfg.Management = xchg.Credential{}
	ex, err := xchg.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ex.(xchg.TraderProvider).Trader(cred, from)
}

func (w *world) newCredential(t *testing.T, ref string) xchg.Credential {
	t.Helper()
	c, err := exact.LoadCredential(context.Background(), w.store, ref)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func containParams(w *world) (revoke, create, verify map[string]any) {
	sub := w.subRef
	revoke = map[string]any{"exchange": w.ex, "sub_account": sub, "key_id": w.demo.Bot.ID}
	create = map[string]any{"exchange": w.ex, "sub_account": sub, "ip_whitelist": []any{botIP}}
	verify = map[string]any{"exchange": w.ex, "from_ip": botIP, "expect_ips": []any{botIP},
		"refused_from_ip": attackerIP, "old_credential_ref": w.botRef, "old_key_id": w.demo.Bot.ID, "sub_account": sub}
	return
}

func TestLeakedKeyScenario(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dc dialectCase) { leakedKeyScenario(t, newWorld(t, dc, 1)) })
}

func leakedKeyScenario(t *testing.T, w *world) {
	ctx := context.Background()
	leaked := xchg.Credential{APIKey: w.demo.Bot.ID, Secret: w.demo.Bot.Secret}
	attacker := w.trader(t, leaked, attackerIP)

	// The attacker trades and withdraws with the leaked, unrestricted key.
	if _, err := attacker.PlaceOrder(ctx, "BTC/USDT", "sell", 0.5, 1000); err != nil {
		t.Fatalf("attacker order before containment: %v", err)
	}
	if _, err := attacker.Withdraw(ctx, "USDT", 100, "0xattacker"); err != nil {
		t.Fatalf("attacker withdrawal before containment: %v", err)
	}

	// Containment.
	var results []runbooks.ActionResult
	cancelled, err := w.run(t, "cancel", "exchange.cancel_orders", map[string]any{"exchange": w.ex, "credential_ref": w.botRef})
	if err != nil {
		t.Fatalf("cancel orders: %v", err)
	}
	results = append(results, cancelled)
	if n := cancelled.Outputs["cancelled_count"]; n != 3 {
		t.Fatalf("cancelled %v orders, want 3 (two bot orders and the attacker's)", n)
	}
	revokeP, createP, verifyP := containParams(w)
	revoked, err := w.run(t, "revoke", "exchange.revoke_key", revokeP)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	results = append(results, revoked)
	created, err := w.run(t, "new-key", "exchange.create_key", createP)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	results = append(results, created)
	secretRef, _ := created.Outputs["secret_ref"].(string)
	verifyP["credential_ref"] = secretRef
	verified, err := w.run(t, "verify", "exchange.verify_key", verifyP)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	results = append(results, verified)
	if verified.Outputs["ok"] != true || verified.Outputs["old_key_rejected"] != true || verified.Outputs["new_key_refused_from_ip"] != true {
		t.Fatalf("verify outputs = %v", verified.Outputs)
	}

	newCred := w.newCredential(t, secretRef)
	if newCred.APIKey != created.Outputs["key_id"] {
		t.Fatalf("stored credential is for %s, result names %v", newCred.APIKey, created.Outputs["key_id"])
	}

	// The attacker is refused with the old key, and with the new key from its IP.
	if _, err := attacker.PlaceOrder(ctx, "BTC/USDT", "sell", 0.5, 1000); xchg.KindOf(err) != xchg.KindAuthentication {
		t.Fatalf("attacker with old key: err = %v, want authentication error", err)
	}
	if _, err := w.trader(t, newCred, attackerIP).PlaceOrder(ctx, "BTC/USDT", "sell", 0.5, 1000); !refused(err) {
		t.Fatalf("attacker with new key from %s: err = %v, want refused", attackerIP, err)
	}
	// The bot works with the new key from its IP, and cannot withdraw.
	bot := w.trader(t, newCred, botIP)
	if _, err := bot.PlaceOrder(ctx, "BTC/USDT", "buy", 0.01, 40000); err != nil {
		t.Fatalf("bot with new key: %v", err)
	}
	if _, err := bot.Withdraw(ctx, "USDT", 1, "0xbot"); xchg.KindOf(err) != xchg.KindPermission {
		t.Fatalf("withdraw with new key: err = %v, want permission error", err)
	}
	if n := len(w.sim.Withdrawals()); n != 1 {
		t.Fatalf("withdrawals = %d, want only the attacker's one before containment", n)
	}

	// Repeating every step changes nothing (retry / replay).
	again, err := w.run(t, "new-key", "exchange.create_key", createP)
	if err != nil || again.Outputs["key_id"] != created.Outputs["key_id"] || again.Outputs["reused"] != true {
		t.Fatalf("create again = %v, %v; want the same key reused", again.Outputs, err)
	}
	if r, err := w.run(t, "revoke", "exchange.revoke_key", revokeP); err != nil || r.Outputs["already_absent"] != true {
		t.Fatalf("revoke again = %v, %v", r.Outputs, err)
	}
	if n := len(w.sim.Calls(exchangesim.CallFilter{Op: "create_key", OnlyOK: true})); n != 1 {
		t.Fatalf("%d successful create-key calls, want 1", n)
	}
	results = append(results, again)

	// No secret in any result.
	assertNoSecret(t, results, w.botSecret, newCred.Secret, w.demo.Management.Secret)
}

func assertNoSecret(t *testing.T, results []runbooks.ActionResult, secretValues ...string) {
	t.Helper()
	b, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secretValues {
		if s != "" && strings.Contains(string(b), s) {
			t.Fatalf("a secret appears in the action results: %s", b)
		}
	}
}

func TestContainmentUnderFaults(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dc dialectCase) {
		for seed := int64(1); seed <= 8; seed++ {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { containUnderFaults(t, dc, seed) })
		}
	})
}

func containUnderFaults(t *testing.T, dc dialectCase, seed int64) {
	w := newWorld(t, dc, seed)
	// 30% of calls fail before the exchange acts: 15% 429 + 15% 503.
	w.sim.SetFaults(exchangesim.Faults{RateLimit: 0.15, ServerError: 0.15, RetryAfter: time.Second, Seed: seed})
	revokeP, createP, verifyP := containParams(w)

	_, cancelAttempts := w.runRetrying(t, "cancel", "exchange.cancel_orders", map[string]any{"exchange": w.ex, "credential_ref": w.botRef})
	_, revokeAttempts := w.runRetrying(t, "revoke", "exchange.revoke_key", revokeP)
	created, createAttempts := w.runRetrying(t, "new-key", "exchange.create_key", createP)
	verifyP["credential_ref"] = created.Outputs["secret_ref"]
	verified, verifyAttempts := w.runRetrying(t, "verify", "exchange.verify_key", verifyP)
	t.Logf("attempts: cancel %d, revoke %d, create %d, verify %d; %d calls, injected %v",
		cancelAttempts, revokeAttempts, createAttempts, verifyAttempts, len(w.sim.Calls(exchangesim.CallFilter{})), w.sim.InjectedFaults())

	inj := w.sim.InjectedFaults()
	if inj[exchangesim.FaultRateLimit]+inj[exchangesim.FaultServerError] == 0 {
		t.Fatalf("no faults injected (%v): the test proves nothing", inj)
	}
	if n := len(w.sim.Calls(exchangesim.CallFilter{Op: "create_key", OnlyOK: true})); n != 1 {
		t.Fatalf("%d successful create-key calls, want exactly 1", n)
	}
	if k, _ := w.sim.Key(w.ex, w.demo.Bot.ID); !k.Revoked {
		t.Fatal("the leaked key is still live")
	}
	live := w.sim.Keys(w.ex, w.demo.Sub.ID, false)
	if len(live) != 1 || live[0].ID != created.Outputs["key_id"] || live[0].Perms.Withdraw || !exchangesimSameIPs(live[0].IPs, botIP) {
		t.Fatalf("live keys = %+v, want only the new trade-only whitelisted key", live)
	}
	if verified.Outputs["ok"] != true {
		t.Fatalf("verify = %v", verified.Outputs)
	}
	if open := w.sim.OpenOrders(w.demo.Sub.ID, ""); len(open) != 0 {
		t.Fatalf("open orders left: %d", len(open))
	}
	newCred := w.newCredential(t, created.Outputs["secret_ref"].(string))
	assertNoSecret(t, []runbooks.ActionResult{created, verified}, w.botSecret, newCred.Secret)
}

func exchangesimSameIPs(ips []string, want ...string) bool { return xchg.SameIPs(ips, want) }

// An answer lost after the exchange created the key: the retry finds the
// key by its label, sees no stored secret, revokes the orphan and creates one
// replacement — one live key, never two.
func TestLostCreateAnswerLeavesOneLiveKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dc dialectCase) { lostCreateAnswer(t, dc) })
}

func lostCreateAnswer(t *testing.T, dc dialectCase) {
	w := newWorld(t, dc, 3)
	_, createP, _ := containParams(w)
	w.sim.SetFaults(exchangesim.Faults{DropAfter: 1, PathPrefixes: []string{dc.createPath}})
	if _, err := w.run(t, "new-key", "exchange.create_key", createP); activities.ErrorType(err) != activities.ErrNetwork {
		t.Fatalf("first attempt: err = %v, want a retryable network error", err)
	}
	w.sim.SetFaults(exchangesim.Faults{})
	res, err := w.run(t, "new-key", "exchange.create_key", createP)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	orphan, _ := res.Outputs["replaced_orphan"].(string)
	if orphan == "" || orphan == res.Outputs["key_id"] {
		t.Fatalf("outputs = %v, want an orphan replaced", res.Outputs)
	}
	if k, _ := w.sim.Key(w.ex, orphan); !k.Revoked {
		t.Fatal("orphan key (secret lost) is still live")
	}
	label := exact.DefaultLabel("inc-42", "new-key")
	var live []string
	for _, k := range w.sim.Keys(w.ex, w.demo.Sub.ID, false) {
		if k.Label == label {
			live = append(live, k.ID)
		}
	}
	if len(live) != 1 || live[0] != res.Outputs["key_id"] {
		t.Fatalf("live keys labelled %s = %v, want exactly the new one", label, live)
	}
}

// Through Temporal's activity test environment: the encoded result payload
// (what lands in workflow history) holds no secret, and errors carry the
// right retry classification.
func TestTemporalPayloadsAndErrorKinds(t *testing.T) {
	w := newWorld(t, dialectCases[0], 5)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	w.reg.RegisterWith(env)
	_, createP, _ := containParams(w)
	val, err := env.ExecuteActivity("exchange.create_key", runbooks.ActionRequest{
		IncidentID: "inc-7", StepID: "new-key", Action: "exchange.create_key", Params: createP})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	var res runbooks.ActionResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	cred := w.newCredential(t, res.Outputs["secret_ref"].(string))
	raw, _ := json.Marshal(res)
	if strings.Contains(string(raw), cred.Secret) {
		t.Fatal("secret in the activity result payload")
	}

	// Authentication failures are not retried; rate limits carry their delay.
	if _, err := w.store.Put(context.Background(), "binance/bogus", exact.EncodeCredential(xchg.Credential{APIKey: "nope", Secret: "nope"}), nil); err != nil {
		t.Fatal(err)
	}
	cancelReq := runbooks.ActionRequest{IncidentID: "inc-7", StepID: "c", Action: "exchange.cancel_orders",
		Params: map[string]any{"exchange": "binance", "credential_ref": "binance/bogus"}}
	_, err = env.ExecuteActivity("exchange.cancel_orders", cancelReq)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != activities.ErrAuthentication || !ae.NonRetryable() {
		t.Fatalf("cancel with an unknown key: err = %v, want non-retryable %s", err, activities.ErrAuthentication)
	}
	w.sim.SetFaults(exchangesim.Faults{RateLimit: 1, RetryAfter: 2 * time.Second})
	cancelReq.Params["credential_ref"] = w.botRef
	_, err = env.ExecuteActivity("exchange.cancel_orders", cancelReq)
	if !errors.As(err, &ae) || ae.Type() != activities.ErrRateLimited || ae.NonRetryable() || ae.NextRetryDelay() != 2*time.Second {
		t.Fatalf("cancel under 429: err = %v, want retryable %s after 2s", err, activities.ErrRateLimited)
	}
}

// Faults that also lose answers after the exchange acted (drop_after): a
// create whose answer is lost leaves an orphan key nobody holds the secret
// of. The call log then shows more than one create, but every extra key is
// revoked by the retry: exactly one live key per incident step.
func TestContainmentUnderLostAnswers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dc dialectCase) {
		for seed := int64(1); seed <= 8; seed++ {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				w := newWorld(t, dc, seed)
				w.sim.SetFaults(exchangesim.Faults{RateLimit: 0.1, ServerError: 0.1, DropAfter: 0.1, Seed: seed})
				revokeP, createP, _ := containParams(w)
				w.runRetrying(t, "revoke", "exchange.revoke_key", revokeP)
				created, _ := w.runRetrying(t, "new-key", "exchange.create_key", createP)
				w.sim.SetFaults(exchangesim.Faults{})

				creates := w.sim.Calls(exchangesim.CallFilter{Op: "create_key", OnlyOK: true})
				label := exact.DefaultLabel("inc-42", "new-key")
				var live []string
				for _, k := range w.sim.Keys(w.ex, w.demo.Sub.ID, false) {
					if k.Label == label {
						live = append(live, k.ID)
					}
				}
				if len(live) != 1 || live[0] != created.Outputs["key_id"] {
					t.Fatalf("live keys labelled %s = %v (creates: %d), want exactly %v", label, live, len(creates), created.Outputs["key_id"])
				}
				if k, _ := w.sim.Key(w.ex, w.demo.Bot.ID); !k.Revoked {
					t.Fatal("the leaked key is still live")
				}
				t.Logf("%d successful creates, injected %v", len(creates), w.sim.InjectedFaults())
			})
		}
	})
}
