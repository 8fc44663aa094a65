package okxsim_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/okxsim"
	"github.com/keyresponse/runbook/integrations/exchangesim/simtest"
)

// These tests speak raw HTTP with an independent signer, to pin down what
// the adapter tests (through ccxt) cannot easily reach: tampered requests,
// stale timestamps, and modify-apikey's field semantics.

type env struct {
	sim  *exchangesim.Sim
	demo exchangesim.DemoAccount
}

func newEnv(t *testing.T) *env {
	sim, demo := simtest.Start(t, exchangesim.Options{Dialects: []exchangesim.Dialect{okxsim.New()}}, exchangesim.DemoOptions{}, "okx")
	return &env{sim: sim, demo: demo}
}

type req struct {
	method, path string // path with query
	body         string
	key          exchangesim.Key
	ts           time.Time
	from         string // source IP ("" = 127.0.0.1)
	tamper       func(r *http.Request)
	passphrase   *string
}

type answer struct {
	status int
	Code   string           `json:"code"`
	Msg    string           `json:"msg"`
	Data   []map[string]any `json:"data"`
}

func (e *env) do(t *testing.T, q req) answer {
	t.Helper()
	if q.ts.IsZero() {
		q.ts = time.Now()
	}
	ts := q.ts.UTC().Format("2006-01-02T15:04:05.000Z")
	mac := hmac.New(sha256.New, []byte(q.key.Secret))
	mac.Write([]byte(ts + q.method + q.path + q.body))
	r, err := http.NewRequest(q.method, e.sim.DialectURL("okx")+q.path, bytes.NewBufferString(q.body))
	if err != nil {
		t.Fatal(err)
	}
	pass := q.key.Passphrase
	if q.passphrase != nil {
		pass = *q.passphrase
	}
	r.Header.Set("OK-ACCESS-KEY", q.key.ID)
	r.Header.Set("OK-ACCESS-SIGN", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	r.Header.Set("OK-ACCESS-TIMESTAMP", ts)
	r.Header.Set("OK-ACCESS-PASSPHRASE", pass)
	r.Header.Set("Content-Type", "application/json")
	if q.tamper != nil {
		q.tamper(r)
	}
	status, b := simtest.Send(t, r, q.from)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s %s: %d %s", q.method, q.path, status, b)
	}
	a.status = status
	return a
}

func TestSignatureIsVerifiedExactly(t *testing.T) {
	e := newEnv(t)
	bot := e.demo.Bot
	if a := e.do(t, req{method: "GET", path: "/api/v5/account/balance?ccy=USDT", key: bot}); a.Code != "0" || len(a.Data) != 1 {
		t.Fatalf("signed balance = %+v", a)
	}
	body := `[{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit","sz":"0.01","px":"40000"}]`
	cases := []struct {
		name   string
		q      req
		status int
		code   string
	}{
		{"query changed after signing", req{method: "GET", path: "/api/v5/account/balance?ccy=USDT", key: bot,
			tamper: func(r *http.Request) { r.URL.RawQuery = "ccy=BTC" }}, 401, okxsim.CodeBadSignature},
		{"body changed after signing", req{method: "POST", path: "/api/v5/trade/batch-orders", key: bot, body: body,
			tamper: func(r *http.Request) {
				b := bytes.Replace([]byte(body), []byte("0.01"), []byte("9.99"), 1)
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			}}, 401, okxsim.CodeBadSignature},
		{"timestamp older than 30s", req{method: "GET", path: "/api/v5/account/balance", key: bot,
			ts: time.Now().Add(-31 * time.Second)}, 401, okxsim.CodeTimestampOld},
		{"wrong passphrase", req{method: "GET", path: "/api/v5/account/balance", key: bot,
			passphrase: ptr("Wrong-pass-1")}, 401, okxsim.CodeBadPassphrase},
		{"no passphrase", req{method: "GET", path: "/api/v5/account/balance", key: bot, passphrase: ptr("")},
			401, okxsim.CodeNoPassphrase},
		{"unknown key", req{method: "GET", path: "/api/v5/account/balance",
			key: exchangesim.Key{ID: "nope", Secret: "x", Passphrase: "y"}}, 401, okxsim.CodeNoSuchKey},
		{"management key from outside its whitelist", req{method: "GET", path: "/api/v5/account/config",
			key: e.demo.Management, from: "127.0.0.66"}, 401, okxsim.CodeIPRefused},
	}
	for _, c := range cases {
		if a := e.do(t, c.q); a.status != c.status || a.Code != c.code {
			t.Errorf("%s: %d %s %q, want %d %s", c.name, a.status, a.Code, a.Msg, c.status, c.code)
		}
	}
	if open := e.sim.OpenOrders(e.demo.Sub.ID, ""); len(open) != 2 {
		t.Fatalf("open orders = %d, want the 2 demo orders (the tampered order refused)", len(open))
	}
}

func ptr(s string) *string { return &s }

func TestModifyAPIKeySemantics(t *testing.T) {
	e := newEnv(t)
	mgmt, sub := e.demo.Management, e.demo.Sub.Name
	a := e.do(t, req{method: "POST", path: "/api/v5/users/subaccount/apikey", key: mgmt,
		body: `{"subAcct":"` + sub + `","label":"k1","passphrase":"Good-pass-1","perm":"trade","ip":"127.0.0.10,127.0.0.11"}`})
	if a.Code != "0" || len(a.Data) != 1 || a.Data[0]["secretKey"] == "" {
		t.Fatalf("create = %+v", a)
	}
	id := a.Data[0]["apiKey"].(string)
	modify := func(fields string) answer {
		return e.do(t, req{method: "POST", path: "/api/v5/users/subaccount/modify-apikey", key: mgmt,
			body: `{"subAcct":"` + sub + `","apiKey":"` + id + `"` + fields + `}`})
	}
	key := func() exchangesim.Key { k, _ := e.sim.Key("okx", id); return k }

	if a := modify(`,"ip":"127.0.0.12"`); a.Code != "0" || a.Data[0]["ip"] != "127.0.0.12" {
		t.Fatalf("modify ip = %+v", a)
	}
	if k := key(); len(k.IPs) != 1 || k.IPs[0] != "127.0.0.12" || !k.Perms.Trade {
		t.Fatalf("after ip replace: %+v", k.Public())
	}
	if a := modify(`,"perm":"read_only"`); a.Code != "0" {
		t.Fatalf("modify perm = %+v", a)
	}
	if k := key(); k.Perms.Trade || len(k.IPs) != 1 {
		t.Fatalf("perm replaced, ip kept: %+v", k.Public())
	}
	if a := modify(`,"ip":""`); a.Code != "0" {
		t.Fatalf("modify ip empty = %+v", a)
	}
	if k := key(); len(k.IPs) != 0 {
		t.Fatalf(`ip="" must remove the whitelist: %+v`, k.Public())
	}
	if a := modify(`,"perm":"withdraw"`); a.Code != okxsim.CodeParam {
		t.Fatalf("withdraw perm on a sub key = %+v, want %s", a, okxsim.CodeParam)
	}
	// The bot key (a sub-account key) may not manage keys.
	if a := e.do(t, req{method: "GET", path: "/api/v5/users/subaccount/apikey?subAcct=" + sub, key: e.demo.Bot}); a.Code != okxsim.CodeMainKeyOnly {
		t.Fatalf("sub key listing keys = %+v, want %s", a, okxsim.CodeMainKeyOnly)
	}
	// Delete, then the key is unknown to every endpoint.
	if a := e.do(t, req{method: "POST", path: "/api/v5/users/subaccount/delete-apikey", key: mgmt,
		body: `{"subAcct":"` + sub + `","apiKey":"` + id + `"}`}); a.Code != "0" {
		t.Fatalf("delete = %+v", a)
	}
	if a := modify(`,"ip":"127.0.0.13"`); a.Code != okxsim.CodeNoSubKey {
		t.Fatalf("modify deleted key = %+v, want %s", a, okxsim.CodeNoSubKey)
	}
}
