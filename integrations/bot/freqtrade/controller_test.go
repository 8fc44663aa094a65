package freqtrade_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade/freqtradesim"
)

const pw = "s3cret-api-password"

func startSim(t *testing.T, o freqtradesim.Options) *freqtradesim.Sim {
	t.Helper()
	if o.Password == "" {
		o.Password = pw
	}
	s, err := freqtradesim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newCtl(t *testing.T, baseURL string, mod func(*freqtrade.Options)) *freqtrade.Controller {
	t.Helper()
	o := freqtrade.Options{BotID: "bot-1", BaseURL: baseURL, Username: "freqtrader", Password: pw,
		VerifyInterval: 20 * time.Millisecond, Exchange: "binance"}
	if mod != nil {
		mod(&o)
	}
	c, err := freqtrade.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFreezeStopsEntriesThenStopsAndIsVerified(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{OpenTrades: 2})
	c := newCtl(t, sim.URL(), nil)
	ctx := context.Background()

	st, err := c.Freeze(ctx, bot.FreezeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != bot.Frozen || st.OpenTrades != 2 {
		t.Fatalf("status after freeze = %+v, want frozen with 2 open trades", st)
	}
	if sim.State() != "stopped" {
		t.Fatalf("bot state = %s, want stopped", sim.State())
	}
	if got, want := sim.ControlCalls(), []string{"/stopentry", "/stop"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("control calls = %v, want %v", got, want)
	}
	if sim.OpenTrade("ETH/USDT") {
		t.Fatal("a frozen bot opened a trade")
	}

	// Freezing a frozen bot succeeds without another control call.
	st, err = c.Freeze(ctx, bot.FreezeOptions{})
	if err != nil || st.State != bot.Frozen {
		t.Fatalf("second freeze = %+v, %v", st, err)
	}
	if n := len(sim.ControlCalls()); n != 2 {
		t.Fatalf("second freeze made control calls: %v", sim.ControlCalls())
	}
}

func TestFreezeWithForceExitClosesTradesBeforeStop(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{OpenTrades: 3})
	c := newCtl(t, sim.URL(), nil)
	st, err := c.Freeze(context.Background(), bot.FreezeOptions{ForceExit: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != bot.Frozen || st.OpenTrades != 0 {
		t.Fatalf("status = %+v, want frozen with 0 open trades", st)
	}
	if got, want := sim.ControlCalls(), []string{"/stopentry", "/forceexit", "/stop"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("control calls = %v, want %v", got, want)
	}
}

func TestForceExitOnAStoppedBotGoesThroughPaused(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{InitialState: "stopped", OpenTrades: 1})
	c := newCtl(t, sim.URL(), nil)
	st, err := c.Freeze(context.Background(), bot.FreezeOptions{ForceExit: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != bot.Frozen || st.OpenTrades != 0 || sim.State() != "stopped" {
		t.Fatalf("status = %+v, bot %s", st, sim.State())
	}
}

func TestSimRefusesForceExitOnceStopped(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{InitialState: "stopped", OpenTrades: 1})
	req, _ := http.NewRequest(http.MethodPost, sim.URL()+"/api/v1/forceexit", strings.NewReader(`{"tradeid":"all","ordertype":"market"}`))
	req.SetBasicAuth("freqtrader", pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 502 || !strings.Contains(body["error"], "trader is not running") {
		t.Fatalf("forceexit on stopped bot = %d %v", resp.StatusCode, body)
	}
	if sim.OpenTrades() != 1 {
		t.Fatal("trade closed although the call was refused")
	}
}

func TestUnfreezeStartsAndVerifies(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{InitialState: "stopped"})
	c := newCtl(t, sim.URL(), nil)
	st, err := c.Unfreeze(context.Background())
	if err != nil || st.State != bot.Running || sim.State() != "running" {
		t.Fatalf("unfreeze = %+v, %v; bot %s", st, err, sim.State())
	}
	st, err = c.Unfreeze(context.Background())
	if err != nil || st.State != bot.Running || len(sim.ControlCalls()) != 1 {
		t.Fatalf("second unfreeze = %+v, %v, calls %v", st, err, sim.ControlCalls())
	}
}

func TestTokenRefreshAndReLogin(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{})
	c := newCtl(t, sim.URL(), nil)
	ctx := context.Background()
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if sim.Logins() != 1 || sim.Refreshes() != 0 {
		t.Fatalf("logins %d refreshes %d after first call", sim.Logins(), sim.Refreshes())
	}
	sim.Advance(16 * time.Minute) // access token (15 min) expired
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if sim.Logins() != 1 || sim.Refreshes() != 1 {
		t.Fatalf("after access expiry: logins %d refreshes %d, want 1 and 1", sim.Logins(), sim.Refreshes())
	}
	sim.Advance(31 * 24 * time.Hour) // refresh token expired too
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if sim.Logins() != 2 {
		t.Fatalf("after refresh expiry: logins %d, want 2", sim.Logins())
	}
}

func TestWrongPasswordIsAnAuthError(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{})
	c := newCtl(t, sim.URL(), func(o *freqtrade.Options) { o.Password = "wrong" })
	_, err := c.Freeze(context.Background(), bot.FreezeOptions{})
	if bot.KindOf(err) != bot.KindAuth {
		t.Fatalf("err = %v, want auth error", err)
	}
	if sim.State() != "running" {
		t.Fatal("bot changed state without authentication")
	}
}

func TestBasicAuthFallbackWithoutTokenEndpoint(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{})
	u, _ := url.Parse(sim.URL())
	proxy := httputil.NewSingleHostReverseProxy(u)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/token/") {
			http.NotFound(w, r)
			return
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
			t.Errorf("request %s without Basic auth", r.URL.Path)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer old.Close()
	c := newCtl(t, old.URL, nil)
	st, err := c.Freeze(context.Background(), bot.FreezeOptions{})
	if err != nil || st.State != bot.Frozen {
		t.Fatalf("freeze via Basic = %+v, %v", st, err)
	}
}

func TestFreezeNotAssumedWhenBotKeepsRunning(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{})
	u, _ := url.Parse(sim.URL())
	proxy := httputil.NewSingleHostReverseProxy(u)
	// A bot whose /stop answers 200 but does nothing.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/stop" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"stopping trader ..."}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer liar.Close()
	c := newCtl(t, liar.URL, func(o *freqtrade.Options) { o.VerifyAttempts = 3 })
	st, err := c.Freeze(context.Background(), bot.FreezeOptions{})
	if bot.KindOf(err) != bot.KindNotVerified {
		t.Fatalf("err = %v, want not_verified", err)
	}
	if st.State == bot.Frozen {
		t.Fatalf("status claims frozen: %+v", st)
	}
}

func TestRateLimitIsReportedWithRetryAfter(t *testing.T) {
	sim := startSim(t, freqtradesim.Options{InitialState: "stopped"})
	c := newCtl(t, sim.URL(), nil)
	ctx := context.Background()
	// 5 starts and 5 stops are allowed per 60 s; the 6th start is refused.
	for i := 0; i < 5; i++ {
		if _, err := c.Unfreeze(ctx); err != nil {
			t.Fatalf("unfreeze %d: %v", i, err)
		}
		if _, err := c.Freeze(ctx, bot.FreezeOptions{}); err != nil {
			t.Fatalf("freeze %d: %v", i, err)
		}
	}
	_, err := c.Unfreeze(ctx)
	var be *bot.Error
	if bot.KindOf(err) != bot.KindRateLimited || !asErr(err, &be) || be.RetryAfter <= 0 || be.RetryAfter > 60*time.Second {
		t.Fatalf("6th unfreeze: %v, want rate_limited with 0 < RetryAfter <= 60s", err)
	}
	sim.Advance(61 * time.Second)
	if _, err := c.Unfreeze(ctx); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestDeliverWritesSecretsFileAndKeepsTheBotFrozen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	// initial_state running: a plain reload would restart a frozen bot.
	sim := startSim(t, freqtradesim.Options{SecretsConfigPath: path, InitialState: "running"})
	c := newCtl(t, sim.URL(), func(o *freqtrade.Options) { o.SecretsConfigPath = path })
	ctx := context.Background()
	if _, err := c.Freeze(ctx, bot.FreezeOptions{}); err != nil {
		t.Fatal(err)
	}
	cred := bot.Credentials{Exchange: "binance", APIKey: "NEWKEY0123456789", Secret: "new-secret-value", Passphrase: ""}
	if err := c.DeliverCredentials(ctx, cred); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode %v, want 0600", fi.Mode().Perm())
	}
	if sim.CredentialsFingerprint() != cred.Fingerprint() || !sim.SecretsFileWas0600() || sim.Reloads() != 1 {
		t.Fatalf("bot loaded fp %q (want %q), 0600=%v, reloads %d", sim.CredentialsFingerprint(), cred.Fingerprint(), sim.SecretsFileWas0600(), sim.Reloads())
	}
	if sim.State() != "stopped" {
		t.Fatalf("bot state after delivery = %s, want stopped (delivery must not unfreeze)", sim.State())
	}
	// Same key again: success, same fingerprint.
	if err := c.DeliverCredentials(ctx, cred); err != nil {
		t.Fatal(err)
	}
	if sim.CredentialsFingerprint() != cred.Fingerprint() || sim.State() != "stopped" {
		t.Fatal("second delivery changed the outcome")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
	var f map[string]map[string]string
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &f); err != nil || f["exchange"]["key"] != cred.APIKey || f["exchange"]["secret"] != cred.Secret {
		t.Fatalf("secrets file is not freqtrade's shape: %v", err)
	}
}

func TestDeliverKeepsARunningBotRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	// freqtrade's default initial_state is stopped: a reload would stop it.
	sim := startSim(t, freqtradesim.Options{SecretsConfigPath: path, InitialState: "stopped"})
	c := newCtl(t, sim.URL(), func(o *freqtrade.Options) { o.SecretsConfigPath = path })
	ctx := context.Background()
	if _, err := c.Unfreeze(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.DeliverCredentials(ctx, bot.Credentials{Exchange: "binance", APIKey: "K2", Secret: "S2"}); err != nil {
		t.Fatal(err)
	}
	if sim.State() != "running" || sim.LoadedAPIKey() != "K2" {
		t.Fatalf("bot %s with key %q, want running with K2", sim.State(), sim.LoadedAPIKey())
	}
}

func TestDeliverRefusesAnotherExchangesKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	sim := startSim(t, freqtradesim.Options{SecretsConfigPath: path})
	c := newCtl(t, sim.URL(), func(o *freqtrade.Options) { o.SecretsConfigPath = path })
	err := c.DeliverCredentials(context.Background(), bot.Credentials{Exchange: "okx", APIKey: "K", Secret: "S"})
	if bot.KindOf(err) != bot.KindInvalid {
		t.Fatalf("err = %v, want invalid", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("secrets file written for the wrong exchange")
	}
}

func asErr(err error, target **bot.Error) bool {
	e, ok := err.(*bot.Error)
	if ok {
		*target = e
	}
	return ok
}
