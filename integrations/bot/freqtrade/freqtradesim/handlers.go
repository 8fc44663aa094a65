package freqtradesim

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keyresponse/runbook/integrations/bot"
)

const (
	stRunning = "running"
	stPaused  = "paused"
	stStopped = "stopped"
	stReload  = "reload_config"
)

func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/ping", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "pong"})
	})
	mux.HandleFunc("POST /api/v1/token/login", s.login)
	mux.HandleFunc("POST /api/v1/token/refresh", s.refresh)
	mux.HandleFunc("GET /api/v1/version", s.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"version": "sim"})
	}))
	mux.HandleFunc("GET /api/v1/show_config", s.auth(s.showConfig))
	mux.HandleFunc("GET /api/v1/status", s.auth(s.limited(s.o.StatusLimit, s.status)))
	mux.HandleFunc("GET /api/v1/count", s.auth(s.limited(s.o.ControlLimit, s.count)))
	mux.HandleFunc("POST /api/v1/start", s.auth(s.limited(s.o.ControlLimit, s.start)))
	mux.HandleFunc("POST /api/v1/stop", s.auth(s.limited(s.o.ControlLimit, s.stop)))
	for _, p := range []string{"/stopentry", "/stopbuy", "/pause"} {
		mux.HandleFunc("POST /api/v1"+p, s.auth(s.limited(s.o.ControlLimit, s.pause)))
	}
	for _, p := range []string{"/forceexit", "/forcesell"} {
		mux.HandleFunc("POST /api/v1"+p, s.auth(s.limited(s.o.ControlLimit, s.forceExit)))
	}
	mux.HandleFunc("POST /api/v1/reload_config", s.auth(s.limited(s.o.ControlLimit, s.reloadConfig)))
	return mux
}

// auth accepts a valid access JWT or HTTP Basic, like freqtrade's
// http_basic_or_jwt_token: a bearer token that fails is a 401 even if
// Basic would have matched.
func (s *Sim) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			if _, err := verifyToken(s.o.JWTSecret, tok, "access", s.now()); err != nil {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeJSON(w, 401, map[string]string{"detail": "Could not validate credentials"})
				return
			}
			next(w, r)
			return
		}
		if u, p, ok := r.BasicAuth(); ok && s.checkUser(u, p) {
			next(w, r)
			return
		}
		writeJSON(w, 401, map[string]string{"detail": "Unauthorized"})
	}
}

func (s *Sim) checkUser(u, p string) bool {
	return constEq(u, s.o.Username) && constEq(p, s.o.Password)
}

// limited applies freqtrade's per-endpoint sliding-window limit. Only
// calls that get through count.
func (s *Sim) limited(max int, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Path
		s.mu.Lock()
		now := s.nowLocked()
		cut := now.Add(-s.o.ControlWindow)
		win := s.windows[key][:0]
		for _, t := range s.windows[key] {
			if t.After(cut) {
				win = append(win, t)
			}
		}
		if len(win) >= max {
			s.windows[key] = win
			wait := win[0].Add(s.o.ControlWindow).Sub(now)
			s.mu.Unlock()
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeJSON(w, 429, map[string]string{"detail": "Rate limit exceeded"})
			return
		}
		s.windows[key] = append(win, now)
		s.mu.Unlock()
		next(w, r)
	}
}

func (s *Sim) login(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", "Basic")
		writeJSON(w, 401, map[string]string{"detail": "Not authenticated"})
		return
	}
	if !s.checkUser(u, p) {
		writeJSON(w, 401, map[string]string{"detail": "Incorrect username or password"})
		return
	}
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	now := s.now()
	writeJSON(w, 200, map[string]string{
		"access_token":  signToken(s.o.JWTSecret, u, "access", now, s.o.AccessTTL),
		"refresh_token": signToken(s.o.JWTSecret, u, "refresh", now, s.o.RefreshTTL),
	})
}

func (s *Sim) refresh(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	u, err := verifyToken(s.o.JWTSecret, tok, "refresh", s.now())
	if err != nil {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSON(w, 401, map[string]string{"detail": "Could not validate credentials"})
		return
	}
	s.mu.Lock()
	s.refreshes++
	s.mu.Unlock()
	writeJSON(w, 200, map[string]string{"access_token": signToken(s.o.JWTSecret, u, "access", s.now(), s.o.AccessTTL)})
}

func (s *Sim) showConfig(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"version": "sim", "api_version": 2.34, "bot_name": s.o.BotName, "exchange": s.o.Exchange,
		"strategy": "SimStrategy", "dry_run": false, "runmode": "live", "state": state,
		"stake_currency": "USDT", "max_open_trades": 3, "timeframe": "5m",
	})
}

func (s *Sim) status(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]map[string]any, 0, len(s.trades))
	for _, t := range s.trades {
		out = append(out, map[string]any{"trade_id": t.ID, "pair": t.Pair, "is_open": true,
			"open_date": t.Open.UTC().Format("2006-01-02 15:04:05"), "exchange": s.o.Exchange})
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Sim) count(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.trades)
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"current": n, "max": 3, "total_stake": 0})
}

func (s *Sim) start(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "/start")
	if s.state == stRunning {
		writeJSON(w, 200, map[string]string{"status": "already running"})
		return
	}
	s.state = stRunning
	writeJSON(w, 200, map[string]string{"status": "starting trader ..."})
}

func (s *Sim) stop(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "/stop")
	if s.state != stStopped {
		s.state = stStopped
		writeJSON(w, 200, map[string]string{"status": "stopping trader ..."})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "already stopped"})
}

func (s *Sim) pause(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "/stopentry")
	switch s.state {
	case stRunning:
		s.state = stPaused
	case stStopped:
		s.state = stPaused
		writeJSON(w, 200, map[string]string{"status": "starting bot with trader in paused state, no entries will occur. Run /start to enable entries."})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "paused, no more entries will occur from now. Run /start to enable entries."})
}

func (s *Sim) forceExit(w http.ResponseWriter, r *http.Request) {
	var p struct {
		TradeID   any    `json:"tradeid"`
		OrderType string `json:"ordertype"`
	}
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.TradeID == nil {
		writeJSON(w, 422, map[string]any{"detail": []map[string]any{{"loc": []string{"body", "tradeid"}, "msg": "Field required", "type": "missing"}}})
		return
	}
	if p.OrderType != "" && p.OrderType != "market" && p.OrderType != "limit" {
		writeJSON(w, 422, map[string]any{"detail": []map[string]any{{"loc": []string{"body", "ordertype"}, "msg": "Input should be 'market' or 'limit'"}}})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stStopped {
		rpcError(w, r, "trader is not running")
		return
	}
	s.calls = append(s.calls, "/forceexit")
	id := fmt.Sprint(p.TradeID)
	if id == "all" {
		s.trades = nil
		writeJSON(w, 200, map[string]string{"result": "Created exit orders for all open trades."})
		return
	}
	for i, t := range s.trades {
		if strconv.Itoa(t.ID) == id {
			s.trades = append(s.trades[:i], s.trades[i+1:]...)
			writeJSON(w, 200, map[string]string{"result": "Created exit order for trade " + id + "."})
			return
		}
	}
	rpcError(w, r, "invalid argument")
}

// reloadConfig: freqtrade sets state reload_config; its worker then tears
// the bot down and builds a new one from the (re-read) config files, which
// starts in initial_state.
func (s *Sim) reloadConfig(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls = append(s.calls, "/reload_config")
	s.state = stReload
	s.mu.Unlock()
	time.AfterFunc(s.o.ReloadDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.state != stReload { // a /stop or /start overtook the reload
			return
		}
		if s.o.SecretsConfigPath != "" {
			s.loadSecretsLocked()
		}
		s.reloads++
		s.state = s.o.InitialState
	})
	writeJSON(w, 200, map[string]string{"status": "Reloading config ..."})
}

// rpcError is freqtrade's answer to an RPCException.
func rpcError(w http.ResponseWriter, r *http.Request, msg string) {
	writeJSON(w, 502, map[string]string{"error": "Error querying " + r.URL.Path + ": " + msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readSecrets(path string) (bot.Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return bot.Credentials{}, err
	}
	var f struct {
		Exchange struct {
			Key      string `json:"key"`
			Secret   string `json:"secret"`
			Password string `json:"password"`
		} `json:"exchange"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return bot.Credentials{}, errors.New("secrets config is not valid JSON")
	}
	if f.Exchange.Key == "" || f.Exchange.Secret == "" {
		return bot.Credentials{}, errors.New("secrets config has no exchange key/secret")
	}
	return bot.Credentials{APIKey: f.Exchange.Key, Secret: f.Exchange.Secret, Passphrase: f.Exchange.Password}, nil
}

func constEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
