package bybitsim_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/exchangesim/bybitsim"
	"github.com/keyresponse/runbook/integrations/exchangesim/simtest"
)

// These tests speak raw HTTP with an independent v5 signer, to pin down
// tampered requests, the receive window, and update-sub-api's documented
// defaults, which the adapter tests (through ccxt) do not reach directly.

type env struct {
	sim  *exchangesim.Sim
	demo exchangesim.DemoAccount
}

func newEnv(t *testing.T) *env {
	sim, demo := simtest.Start(t, exchangesim.Options{Dialects: []exchangesim.Dialect{bybitsim.New()}}, exchangesim.DemoOptions{}, "bybit")
	return &env{sim: sim, demo: demo}
}

type req struct {
	method, path, query, body string
	key                       exchangesim.Key
	ts                        time.Time
	from                      string
	tamper                    func(r *http.Request)
}

type answer struct {
	RetCode int            `json:"retCode"`
	RetMsg  string         `json:"retMsg"`
	Result  map[string]any `json:"result"`
}

func (e *env) do(t *testing.T, q req) answer {
	t.Helper()
	if q.ts.IsZero() {
		q.ts = time.Now()
	}
	ts := strconv.FormatInt(q.ts.UnixMilli(), 10)
	payload := q.query
	if q.method == "POST" {
		payload = q.body
	}
	mac := hmac.New(sha256.New, []byte(q.key.Secret))
	mac.Write([]byte(ts + q.key.ID + "5000" + payload))
	url := e.sim.DialectURL("bybit") + q.path
	if q.query != "" {
		url += "?" + q.query
	}
	r, err := http.NewRequest(q.method, url, bytes.NewBufferString(q.body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-BAPI-API-KEY", q.key.ID)
	r.Header.Set("X-BAPI-TIMESTAMP", ts)
	r.Header.Set("X-BAPI-RECV-WINDOW", "5000")
	r.Header.Set("X-BAPI-SIGN", hex.EncodeToString(mac.Sum(nil)))
	r.Header.Set("Content-Type", "application/json")
	if q.tamper != nil {
		q.tamper(r)
	}
	status, b := simtest.Send(t, r, q.from)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil || status != 200 {
		t.Fatalf("%s %s: %d %s", q.method, q.path, status, b)
	}
	return a
}

func TestSignatureIsVerifiedExactly(t *testing.T) {
	e := newEnv(t)
	bot := e.demo.Bot
	if a := e.do(t, req{method: "GET", path: "/v5/order/realtime", query: "category=spot", key: bot}); a.RetCode != 0 {
		t.Fatalf("signed open orders = %+v", a)
	}
	body := `{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.01","price":"40000"}`
	cases := []struct {
		name string
		q    req
		code int
	}{
		{"query changed after signing", req{method: "GET", path: "/v5/order/realtime", query: "category=spot", key: bot,
			tamper: func(r *http.Request) { r.URL.RawQuery = "category=linear" }}, bybitsim.CodeBadSign},
		{"body changed after signing", req{method: "POST", path: "/v5/order/create", body: body, key: bot,
			tamper: func(r *http.Request) {
				b := bytes.Replace([]byte(body), []byte("0.01"), []byte("9.99"), 1)
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
			}}, bybitsim.CodeBadSign},
		{"timestamp older than recv_window", req{method: "GET", path: "/v5/user/query-api", key: bot,
			ts: time.Now().Add(-6 * time.Second)}, bybitsim.CodeTimestamp},
		{"timestamp ahead by more than 1s", req{method: "GET", path: "/v5/user/query-api", key: bot,
			ts: time.Now().Add(3 * time.Second)}, bybitsim.CodeTimestamp},
		{"unknown key", req{method: "GET", path: "/v5/user/query-api",
			key: exchangesim.Key{ID: "nope", Secret: "x"}}, bybitsim.CodeInvalidKey},
		{"management key from outside its whitelist", req{method: "GET", path: "/v5/user/query-api",
			key: e.demo.Management, from: "127.0.0.66"}, bybitsim.CodeIPRefused},
	}
	for _, c := range cases {
		if a := e.do(t, c.q); a.RetCode != c.code {
			t.Errorf("%s: %d %q, want %d", c.name, a.RetCode, a.RetMsg, c.code)
		}
	}
	if open := e.sim.OpenOrders(e.demo.Sub.ID, ""); len(open) != 2 {
		t.Fatalf("open orders = %d, want the 2 demo orders (the tampered order refused)", len(open))
	}
}

func TestUpdateSubAPIDefaults(t *testing.T) {
	e := newEnv(t)
	mgmt := e.demo.Management
	a := e.do(t, req{method: "POST", path: "/v5/user/create-sub-api", key: mgmt,
		body: `{"subuid":` + e.demo.Sub.UID + `,"note":"k1","readOnly":0,"ips":"127.0.0.10","permissions":{"Spot":["SpotTrade"]}}`})
	if a.RetCode != 0 || a.Result["secret"] == "" {
		t.Fatalf("create = %+v", a)
	}
	id := a.Result["apiKey"].(string)
	key := func() exchangesim.Key { k, _ := e.sim.Key("bybit", id); return k }
	update := func(fields string) answer {
		return e.do(t, req{method: "POST", path: "/v5/user/update-sub-api", key: mgmt,
			body: `{"apikey":"` + id + `"` + fields + `}`})
	}
	// readOnly 1 with ips kept.
	if a := update(`,"readOnly":1,"ips":"127.0.0.10"`); a.RetCode != 0 {
		t.Fatalf("update = %+v", a)
	}
	if k := key(); k.Perms.Trade || len(k.IPs) != 1 {
		t.Fatalf("after readOnly 1: %+v", k.Public())
	}
	// Absent readOnly means read-write; absent permissions keep them; the
	// documented trap: absent ips means no binding.
	if a := update(`,"permissions":{"Spot":["SpotTrade"]}`); a.RetCode != 0 {
		t.Fatalf("update = %+v", a)
	}
	if k := key(); !k.Perms.Trade || len(k.IPs) != 0 {
		t.Fatalf("after update without ips: %+v, want trade and no binding", k.Public())
	}
	if a := update(`,"readOnly":0,"ips":"127.0.0.11,127.0.0.12"`); a.RetCode != 0 {
		t.Fatalf("update = %+v", a)
	}
	if k := key(); !k.Perms.Trade || len(k.IPs) != 2 {
		t.Fatalf("permissions kept, ips set: %+v", k.Public())
	}
	// A sub key cannot name another key, and a trade-only sub key cannot
	// delete itself; neither can it call delete-api (main keys only).
	sub := exchangesim.Key{ID: id, Secret: key().Secret}
	if a := e.do(t, req{method: "POST", path: "/v5/user/delete-sub-api", key: e.demo.Bot,
		body: `{"apikey":"` + id + `"}`}); a.RetCode != bybitsim.CodeParam {
		t.Fatalf("sub key deleting another key = %+v", a)
	}
	for _, path := range []string{"/v5/user/delete-sub-api", "/v5/user/delete-api"} {
		if a := e.do(t, req{method: "POST", path: path, key: sub, body: `{}`, from: "127.0.0.11"}); a.RetCode != bybitsim.CodeNoPermission {
			t.Fatalf("trade-only key on %s = %+v, want %d", path, a, bybitsim.CodeNoPermission)
		}
	}
	if key().Revoked {
		t.Fatal("trade-only key was revoked")
	}
	// The management key deletes it; then it is unknown.
	if a := e.do(t, req{method: "POST", path: "/v5/user/delete-sub-api", key: mgmt, body: `{"apikey":"` + id + `"}`}); a.RetCode != 0 {
		t.Fatalf("delete = %+v", a)
	}
	if a := e.do(t, req{method: "GET", path: "/v5/user/query-api", key: sub, from: "127.0.0.11"}); a.RetCode != bybitsim.CodeInvalidKey {
		t.Fatalf("deleted key = %+v, want %d", a, bybitsim.CodeInvalidKey)
	}
}
