package binancesim_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/binancesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/simtest"
)

// A hand-rolled Binance client (no ccxt) so the dialect's wire rules are
// tested on their own: the signature covers the bytes as sent.

func start(t *testing.T, now func() time.Time) (*exchangesim.Sim, exchangesim.DemoAccount) {
	return simtest.Start(t, exchangesim.Options{Now: now, Dialects: []exchangesim.Dialect{binancesim.New()}}, exchangesim.DemoOptions{}, "binance")
}

func sign(secret, payload string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(payload))
	return hex.EncodeToString(m.Sum(nil))
}

func do(t *testing.T, c *http.Client, method, url, apiKey, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("X-MBX-APIKEY", apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func ts() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

func TestSignatureOverRawBytes(t *testing.T) {
	sim, a := start(t, nil)
	base := sim.DialectURL("binance")
	c := simtest.ClientFrom("127.0.0.1")
	mgmt := a.Management

	// Raw '@' and ',' as ccxt sends them on sub-account paths.
	q := "email=" + a.Sub.Email + "&timestamp=" + ts()
	st, body := do(t, c, "GET", base+"/sapi/v1/sub-account/subAccountApi?"+q+"&signature="+sign(mgmt.Secret, q), mgmt.ID, "")
	if st != 200 {
		t.Fatalf("raw query: %d %v", st, body)
	}
	// Same parameters, but the bytes sent differ from the bytes signed:
	// the simulator must not re-encode and accept.
	sent := strings.Replace(q, "@", "%40", 1)
	st, body = do(t, c, "GET", base+"/sapi/v1/sub-account/subAccountApi?"+sent+"&signature="+sign(mgmt.Secret, q), mgmt.ID, "")
	if st != 400 || body["code"] != float64(binancesim.CodeBadSignature) {
		t.Fatalf("re-encoded query accepted: %d %v", st, body)
	}
	// POST: signature over the form body.
	form := "email=" + a.Sub.Email + "&apiName=x&status=2&ipAddress=127.0.0.10,127.0.0.11&canTrade=true&timestamp=" + ts()
	st, body = do(t, c, "POST", base+"/sapi/v2/sub-account/subAccountApi", mgmt.ID, form+"&signature="+sign(mgmt.Secret, form))
	if st != 200 || body["secretKey"] == "" || body["canUniversalTransfer"] != false {
		t.Fatalf("create: %d %v", st, body)
	}
	if calls := sim.Calls(exchangesim.CallFilter{Op: "create_key"}); len(calls) != 1 || calls[0].KeyID != mgmt.ID || strings.Contains(calls[0].Result, body["secretKey"].(string)) {
		t.Fatalf("call log = %+v", calls)
	}
}

func TestTimestampWindowAndAuthErrors(t *testing.T) {
	sim, a := start(t, nil)
	base := sim.DialectURL("binance")
	c := simtest.ClientFrom("127.0.0.1")
	bot := a.Bot

	old := "timestamp=" + strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)
	st, body := do(t, c, "GET", base+"/api/v3/account?"+old+"&signature="+sign(bot.Secret, old), bot.ID, "")
	if st != 400 || body["code"] != float64(binancesim.CodeTimestamp) {
		t.Fatalf("stale timestamp: %d %v", st, body)
	}
	q := "timestamp=" + ts()
	if st, _ := do(t, c, "GET", base+"/api/v3/account?"+q+"&signature="+sign(bot.Secret, q), bot.ID, ""); st != 200 {
		t.Fatalf("fresh request refused: %d", st)
	}
	if st, body := do(t, c, "GET", base+"/api/v3/account?"+q+"&signature="+sign("wrong", q), bot.ID, ""); st != 400 || body["code"] != float64(binancesim.CodeBadSignature) {
		t.Fatalf("bad signature: %d %v", st, body)
	}
	if err := sim.RevokeKey("binance", bot.ID); err != nil {
		t.Fatal(err)
	}
	q = "timestamp=" + ts()
	st, body = do(t, c, "GET", base+"/api/v3/account?"+q+"&signature="+sign(bot.Secret, q), bot.ID, "")
	if st != 401 || body["code"] != float64(binancesim.CodeInvalidKey) || body["msg"] != "Invalid API-key, IP, or permissions for action." {
		t.Fatalf("revoked key: %d %v", st, body)
	}
	// Management key is whitelisted to 127.0.0.1 only.
	q = "email=" + a.Sub.Email + "&timestamp=" + ts()
	st, _ = do(t, simtest.ClientFrom("127.0.0.66"), "GET", base+"/sapi/v1/sub-account/subAccountApi?"+q+"&signature="+sign(a.Management.Secret, q), a.Management.ID, "")
	if st != 401 {
		t.Fatalf("management key from 127.0.0.66: %d, want 401", st)
	}
	calls := sim.Calls(exchangesim.CallFilter{ClientIP: "127.0.0.66"})
	if len(calls) != 1 || calls[0].Code != "-2015" || calls[0].KeyID != a.Management.ID {
		t.Fatalf("attacker calls = %+v", calls)
	}
}

func TestFaultsDeterministicAndAdminAPI(t *testing.T) {
	run := func() []int {
		sim, _ := start(t, nil)
		sim.SetFaults(exchangesim.Faults{RateLimit: 0.3, ServerError: 0.2, Seed: 99})
		var got []int
		for i := 0; i < 30; i++ {
			resp, err := http.Get(sim.DialectURL("binance") + "/api/v3/time")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == 429 && resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("429 without Retry-After: %v", resp.Header)
			}
			resp.Body.Close()
			got = append(got, resp.StatusCode)
		}
		return got
	}
	a, a2 := run(), run()
	if fmtInts(a) != fmtInts(a2) {
		t.Fatalf("same seed, different faults:\n%v\n%v", a, a2)
	}
	var n429, n503 int
	for _, s := range a {
		switch s {
		case 429:
			n429++
		case 503:
			n503++
		}
	}
	if n429 == 0 || n503 == 0 || n429+n503 == 30 {
		t.Fatalf("fault mix %v looks wrong", a)
	}

	// Admin API: faults off, leak a key, read the call log.
	sim, demo := start(t, nil)
	req, _ := http.NewRequest("PUT", sim.URL()+"/_sim/faults", strings.NewReader(`{"rate_limit":1}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("set faults: %v %v", resp, err)
	}
	if resp, _ := http.Get(sim.DialectURL("binance") + "/api/v3/time"); resp.StatusCode != 429 {
		t.Fatalf("fault via admin API not applied: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("DELETE", sim.URL()+"/_sim/faults", nil)
	_, _ = http.DefaultClient.Do(req)
	resp, err := http.Post(sim.URL()+"/_sim/keys/leak", "application/json", strings.NewReader(`{"exchange":"binance","id":"`+demo.Bot.ID+`"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("leak: %v %v", resp, err)
	}
	var leaked exchangesim.Key
	_ = json.NewDecoder(resp.Body).Decode(&leaked)
	if !leaked.Leaked || leaked.Secret != demo.Bot.Secret {
		t.Fatalf("leaked = %+v", leaked.Public())
	}
	resp, _ = http.Get(sim.URL() + "/_sim/keys?exchange=binance")
	b, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(b), demo.Bot.Secret) || !strings.Contains(string(b), demo.Bot.ID) {
		t.Fatalf("key listing leaks secrets or misses keys: %s", b)
	}
	resp, _ = http.Get(sim.URL() + "/_sim/calls?exchange=binance")
	var calls []exchangesim.Call
	_ = json.NewDecoder(resp.Body).Decode(&calls)
	if len(calls) != 1 || calls[0].Status != 429 || calls[0].Fault != "rate_limit" {
		t.Fatalf("calls = %+v", calls)
	}
}

func fmtInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, " ")
}

func TestStartRefusesNonLoopback(t *testing.T) {
	sim := exchangesim.New(exchangesim.Options{})
	if err := sim.Start("0.0.0.0:0"); err == nil {
		_ = sim.Close()
		t.Fatal("listening on all interfaces was allowed")
	}
}
