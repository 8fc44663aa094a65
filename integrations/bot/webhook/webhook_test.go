package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/bottest"
	"github.com/keyresponse/runbook/integrations/bot/webhook"
)

var key = []byte("0123456789abcdef-webhook-signing")

// recorder keeps the raw requests the bot received, to replay and inspect.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	next http.Handler
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r.Clone(context.Background()))
	rc.body = append(rc.body, b)
	rc.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	rc.next.ServeHTTP(w, r)
}

func setup(t *testing.T) (*bottest.MemBot, *recorder, *httptest.Server) {
	mb := bottest.New(2)
	rc := &recorder{next: webhook.NewReceiver("bot-7", key, mb)}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return mb, rc, srv
}

func ctl(t *testing.T, url string, k []byte) *webhook.Controller {
	c, err := webhook.New(webhook.Options{BotID: "bot-7", URL: url, SigningKey: k, Exchange: "binance"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFreezeUnfreezeStatusOverSignedWebhook(t *testing.T) {
	mb, rc, srv := setup(t)
	c := ctl(t, srv.URL, key)
	ctx := bot.WithIncident(context.Background(), "inc-42")

	st, err := c.Freeze(ctx, bot.FreezeOptions{ForceExit: true})
	if err != nil || st.State != bot.Frozen || st.OpenTrades != 0 || mb.State() != bot.Frozen {
		t.Fatalf("freeze = %+v, %v; bot %s", st, err, mb.State())
	}
	if st, err = c.Freeze(ctx, bot.FreezeOptions{}); err != nil || st.State != bot.Frozen {
		t.Fatalf("second freeze = %+v, %v", st, err)
	}
	if st, err = c.Status(ctx); err != nil || st.State != bot.Frozen {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if st, err = c.Unfreeze(ctx); err != nil || st.State != bot.Running || mb.State() != bot.Running {
		t.Fatalf("unfreeze = %+v, %v", st, err)
	}
	if got := mb.Incidents()[0]; got != "inc-42" {
		t.Fatalf("bot saw incident %q", got)
	}

	// The documented signature format, checked independently of Receiver.
	r, body := rc.reqs[0], rc.body[0]
	ts := r.Header.Get(webhook.HeaderTimestamp)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "."))
	m.Write(body)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); r.Header.Get(webhook.HeaderSignature) != want {
		t.Fatalf("signature %q, want %q", r.Header.Get(webhook.HeaderSignature), want)
	}
	var req map[string]any
	json.Unmarshal(body, &req)
	if req["action"] != "freeze" || req["bot"] != "bot-7" || req["incident"] != "inc-42" || req["nonce"] == "" ||
		strconv.FormatInt(int64(req["timestamp"].(float64)), 10) != ts {
		t.Fatalf("request body %s", body)
	}
}

func TestWrongKeyIsRefusedAndNothingHappens(t *testing.T) {
	mb, _, srv := setup(t)
	c := ctl(t, srv.URL, []byte("another-key-of-16-bytes-or-more"))
	_, err := c.Freeze(context.Background(), bot.FreezeOptions{})
	if bot.KindOf(err) != bot.KindAuth {
		t.Fatalf("err = %v, want auth", err)
	}
	if len(mb.Calls()) != 0 || mb.State() != bot.Running {
		t.Fatalf("bot acted on a badly signed command: %v", mb.Calls())
	}
}

func TestReplayedAndTamperedRequestsAreRefused(t *testing.T) {
	mb, rc, srv := setup(t)
	c := ctl(t, srv.URL, key)
	if _, err := c.Unfreeze(context.Background()); err != nil {
		t.Fatal(err)
	}
	orig, body := rc.reqs[0], rc.body[0]
	send := func(b []byte) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(b))
		req.Header.Set(webhook.HeaderTimestamp, orig.Header.Get(webhook.HeaderTimestamp))
		req.Header.Set(webhook.HeaderSignature, orig.Header.Get(webhook.HeaderSignature))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(body); code != http.StatusUnauthorized {
		t.Fatalf("replay answered %d", code)
	}
	tampered := bytes.Replace(body, []byte(`"unfreeze"`), []byte(`"freeze"`), 1)
	if code := send(tampered); code != http.StatusUnauthorized {
		t.Fatalf("tampered answered %d", code)
	}
	if n := len(mb.Calls()); n != 1 || mb.State() != bot.Running {
		t.Fatalf("bot acted on replayed/tampered commands: %v", mb.Calls())
	}
}

func TestStaleTimestampIsRefused(t *testing.T) {
	mb := bottest.New(0)
	rv := webhook.NewReceiver("bot-7", key, mb)
	srv := httptest.NewServer(rv)
	defer srv.Close()
	c, _ := webhook.New(webhook.Options{BotID: "bot-7", URL: srv.URL, SigningKey: key,
		Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }})
	if _, err := c.Freeze(context.Background(), bot.FreezeOptions{}); bot.KindOf(err) != bot.KindAuth {
		t.Fatalf("err = %v, want auth (stale timestamp)", err)
	}
	if len(mb.Calls()) != 0 {
		t.Fatal("bot acted on a stale command")
	}
}

func TestDeliverOverLoopbackAndFingerprintCheck(t *testing.T) {
	mb, rc, srv := setup(t)
	c := ctl(t, srv.URL, key)
	cr := bot.Credentials{Exchange: "binance", APIKey: "NEWKEY", Secret: "new-secret"}
	if err := c.DeliverCredentials(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	if mb.Credentials().Fingerprint() != cr.Fingerprint() {
		t.Fatal("bot did not get the credentials")
	}
	if !strings.Contains(string(rc.body[0]), `"secret":"new-secret"`) {
		t.Fatal("deliver body lacks the credentials")
	}
	if err := c.DeliverCredentials(context.Background(), cr); err != nil || mb.Deliveries() != 2 {
		t.Fatalf("second delivery: %v (%d)", err, mb.Deliveries())
	}
}

func TestDeliverRefusesPlainHTTPToAnotherHost(t *testing.T) {
	// 192.0.2.1 is TEST-NET-1: the refusal happens before any connection.
	c := ctl(t, "http://192.0.2.1:9/hook", key)
	err := c.DeliverCredentials(context.Background(), bot.Credentials{Exchange: "binance", APIKey: "K", Secret: "S"})
	if bot.KindOf(err) != bot.KindInvalid || !strings.Contains(err.Error(), "https") {
		t.Fatalf("err = %v, want invalid mentioning https", err)
	}
}

func TestFreezeNotVerifiedWhenBotStillRuns(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"state":"running","open_trades":1}`))
	}))
	defer srv.Close()
	_, err := ctl(t, srv.URL, key).Freeze(context.Background(), bot.FreezeOptions{})
	if bot.KindOf(err) != bot.KindNotVerified {
		t.Fatalf("err = %v, want not_verified", err)
	}
}

func TestDeliverNotVerifiedWhenBotReportsOtherCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"state":"frozen","fingerprint":"000000000000"}`))
	}))
	defer srv.Close()
	err := ctl(t, srv.URL, key).DeliverCredentials(context.Background(), bot.Credentials{Exchange: "binance", APIKey: "K", Secret: "S"})
	if bot.KindOf(err) != bot.KindNotVerified {
		t.Fatalf("err = %v, want not_verified", err)
	}
}
