package webhook

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keyresponse/runbook/integrations/bot"
)

// Receiver is the bot side: an http.Handler that checks signature,
// timestamp window, nonce and bot id, then calls the bot's Handler. A bot
// written in Go mounts it; bots in other languages reproduce its checks.
type Receiver struct {
	BotID  string
	Key    []byte
	H      bot.Handler
	Window time.Duration    // default DefaultWindow
	Now    func() time.Time // default time.Now

	mu   sync.Mutex
	seen map[string]time.Time // nonce → expiry
}

// NewReceiver builds a Receiver.
func NewReceiver(botID string, key []byte, h bot.Handler) *Receiver {
	return &Receiver{BotID: botID, Key: key, H: h}
}

func (rv *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		reply(w, http.StatusMethodNotAllowed, Response{Error: "POST only"})
		return
	}
	req, code, err := rv.check(r)
	if err != nil {
		reply(w, code, Response{Error: err.Error()})
		return
	}
	ctx := bot.WithIncident(r.Context(), req.Incident)
	var st bot.Status
	var fp string
	switch req.Action {
	case ActionFreeze:
		st, err = rv.H.Freeze(ctx, req.ForceExit)
	case ActionUnfreeze:
		st, err = rv.H.Unfreeze(ctx)
	case ActionStatus:
		st, err = rv.H.Status(ctx)
	case ActionDeliver:
		if req.Credentials == nil {
			reply(w, http.StatusBadRequest, Response{Error: "deliver without credentials"})
			return
		}
		c := bot.Credentials{Exchange: req.Credentials.Exchange, APIKey: req.Credentials.APIKey,
			Secret: req.Credentials.Secret, Passphrase: req.Credentials.Passphrase}
		if err = rv.H.Deliver(ctx, c); err == nil {
			fp = c.Fingerprint()
			st, err = rv.H.Status(ctx)
		}
	case ActionReload:
		rl, ok := rv.H.(bot.Reloader)
		if !ok {
			reply(w, http.StatusNotImplemented, Response{Error: "reload not supported"})
			return
		}
		if err = rl.Reload(ctx); err == nil {
			st, err = rv.H.Status(ctx)
		}
	default:
		reply(w, http.StatusBadRequest, Response{Error: "unknown action " + strconv.Quote(req.Action)})
		return
	}
	if err != nil {
		reply(w, http.StatusInternalServerError, Response{Error: err.Error()})
		return
	}
	reply(w, http.StatusOK, Response{State: string(st.State), OpenTrades: st.OpenTrades, Detail: st.Detail, Fingerprint: fp})
}

func (rv *Receiver) check(r *http.Request) (Request, int, error) {
	var req Request
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return req, http.StatusBadRequest, errors.New("unreadable body")
	}
	ts, err := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return req, http.StatusUnauthorized, errors.New("missing timestamp")
	}
	if !VerifySignature(rv.Key, ts, body, r.Header.Get(HeaderSignature)) {
		return req, http.StatusUnauthorized, errors.New("bad signature")
	}
	now := rv.now()
	win := rv.Window
	if win <= 0 {
		win = DefaultWindow
	}
	if d := now.Sub(time.Unix(ts, 0)); d > win || d < -win {
		return req, http.StatusUnauthorized, errors.New("timestamp outside the window")
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, http.StatusBadRequest, errors.New("body is not a command")
	}
	if req.Timestamp != ts || req.Nonce == "" {
		return req, http.StatusUnauthorized, errors.New("timestamp or nonce mismatch")
	}
	if req.Bot != rv.BotID {
		return req, http.StatusForbidden, errors.New("command for another bot")
	}
	if !rv.remember(req.Nonce, now.Add(2*win)) {
		return req, http.StatusUnauthorized, errors.New("replayed nonce")
	}
	return req, 0, nil
}

// remember records a nonce; false when it was seen before. Nonces are kept
// past the window, after which the timestamp check rejects a replay anyway.
func (rv *Receiver) remember(nonce string, until time.Time) bool {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	now := rv.now()
	if rv.seen == nil {
		rv.seen = map[string]time.Time{}
	}
	for n, exp := range rv.seen {
		if now.After(exp) {
			delete(rv.seen, n)
		}
	}
	if _, dup := rv.seen[nonce]; dup {
		return false
	}
	rv.seen[nonce] = until
	return true
}

func (rv *Receiver) now() time.Time {
	if rv.Now != nil {
		return rv.Now()
	}
	return time.Now()
}

func reply(w http.ResponseWriter, code int, r Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(r)
}
