package freqtradesim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func start(t *testing.T, o Options) *Sim {
	t.Helper()
	o.Password = "pw"
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func call(t *testing.T, s *Sim, method, path, auth string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+"/api/v1"+path, strings.NewReader("{}"))
	if auth == "basic" {
		req.SetBasicAuth("freqtrader", "pw")
	} else if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestAuthIsRequiredExceptPing(t *testing.T) {
	s := start(t, Options{})
	if code, _ := call(t, s, "GET", "/ping", ""); code != 200 {
		t.Fatalf("ping %d", code)
	}
	if code, _ := call(t, s, "POST", "/stop", ""); code != 401 || s.State() != "running" {
		t.Fatalf("unauthenticated stop: %d, state %s", code, s.State())
	}
	_, tok := call(t, s, "POST", "/token/login", "basic")
	refresh, _ := tok["refresh_token"].(string)
	access, _ := tok["access_token"].(string)
	if code, _ := call(t, s, "POST", "/stop", refresh); code != 401 {
		t.Fatalf("refresh token accepted as access token: %d", code)
	}
	if code, _ := call(t, s, "GET", "/show_config", access); code != 200 {
		t.Fatalf("access token refused: %d", code)
	}
	if code, _ := call(t, s, "GET", "/show_config", access[:len(access)-2]+"xx"); code != 401 {
		t.Fatalf("tampered token accepted: %d", code)
	}
}

func TestControlRateLimitIsPerEndpointAndSlides(t *testing.T) {
	s := start(t, Options{})
	for i := 0; i < 5; i++ {
		if code, _ := call(t, s, "POST", "/start", "basic"); code != 200 {
			t.Fatalf("start %d: %d", i, code)
		}
	}
	if code, body := call(t, s, "POST", "/start", "basic"); code != 429 {
		t.Fatalf("6th start: %d %v", code, body)
	}
	if code, _ := call(t, s, "POST", "/stop", "basic"); code != 200 || s.State() != "stopped" {
		t.Fatalf("stop has its own budget: %d", code)
	}
	s.Advance(61e9)
	if code, _ := call(t, s, "POST", "/start", "basic"); code != 200 {
		t.Fatalf("start after the window: %d", code)
	}
}

func TestStateMachine(t *testing.T) {
	s := start(t, Options{OpenTrades: 1})
	call(t, s, "POST", "/stopentry", "basic")
	if s.State() != "paused" || s.OpenTrade("ETH/USDT") {
		t.Fatalf("after stopentry: %s (and entries must stop)", s.State())
	}
	code, body := call(t, s, "POST", "/forceexit", "basic")
	if code != 422 {
		t.Fatalf("forceexit without tradeid: %d %v", code, body)
	}
	call(t, s, "POST", "/stop", "basic")
	if s.State() != "stopped" {
		t.Fatalf("after stop: %s", s.State())
	}
	call(t, s, "POST", "/stopbuy", "basic")
	if s.State() != "paused" {
		t.Fatalf("stopbuy on a stopped bot: %s, want paused (freqtrade starts it paused)", s.State())
	}
}
