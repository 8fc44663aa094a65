// Package freqtradesim is a local HTTP server that speaks the part of
// freqtrade's REST API (/api/v1) the engine uses, with freqtrade's rules:
// HTTP Basic or JWT auth (access 15 min, refresh 30 days), the state machine
// running → paused (stopentry) → stopped, forceexit refused once stopped,
// reload_config rebuilding the bot in its initial_state and re-reading the
// secrets config file, and the control-endpoint rate limit (5 calls per
// 60 s per endpoint). Tests use it, and `runbook dev` starts one as the
// demo bot.
package freqtradesim

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/keyresponse/runbook/integrations/bot"
)

// Options configure the simulator.
type Options struct {
	BotName  string // default "freqtrade-sim"
	Username string // default "freqtrader"
	Password string // required
	// JWTSecret signs tokens (default: random per simulator).
	JWTSecret []byte
	// InitialState is the state the bot starts in and returns to after
	// reload_config, like freqtrade's initial_state: "running" (default
	// here, a demo bot trades), "paused" or "stopped" (freqtrade's own
	// default).
	InitialState string
	// SecretsConfigPath is read at start (if present) and on every
	// reload_config: {"exchange":{"key","secret","password"}}.
	SecretsConfigPath string
	Exchange          string // reported by show_config (default "binance")
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	// ControlLimit calls per ControlWindow per control endpoint (default
	// 5 per 60 s); StatusLimit for GET /status (default 20).
	ControlLimit  int
	ControlWindow time.Duration
	StatusLimit   int
	// ReloadDelay is how long a reload stays in state reload_config
	// (default 50 ms).
	ReloadDelay time.Duration
	// OpenTrades the bot starts with.
	OpenTrades int
	// TradeEvery, when set, calls Trader with the loaded credentials that
	// often while the bot is running (the demo bot "trades").
	TradeEvery time.Duration
	Trader     func(ctx context.Context, c bot.Credentials) error
}

// Sim is one simulated freqtrade bot.
type Sim struct {
	o Options

	mu          sync.Mutex
	state       string
	trades      []trade
	nextTradeID int
	creds       bot.Credentials
	secrets0600 bool
	reloads     int
	reloadErr   error
	calls       []string // control calls that passed auth and rate limit, in order
	skew        time.Duration
	windows     map[string][]time.Time
	tradeErrs   int
	logins      int
	refreshes   int

	srv    *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type trade struct {
	ID   int
	Pair string
	Open time.Time
}

// New builds a simulator; Start serves it.
func New(o Options) (*Sim, error) {
	if o.Password == "" {
		return nil, errors.New("freqtradesim: Password is required")
	}
	if o.BotName == "" {
		o.BotName = "freqtrade-sim"
	}
	if o.Username == "" {
		o.Username = "freqtrader"
	}
	if len(o.JWTSecret) == 0 {
		o.JWTSecret = make([]byte, 32)
		if _, err := rand.Read(o.JWTSecret); err != nil {
			return nil, err
		}
	}
	switch o.InitialState {
	case "":
		o.InitialState = stRunning
	case stRunning, stPaused, stStopped:
	default:
		return nil, fmt.Errorf("freqtradesim: initial state %q is not running, paused or stopped", o.InitialState)
	}
	if o.Exchange == "" {
		o.Exchange = "binance"
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = 15 * time.Minute
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 30 * 24 * time.Hour
	}
	if o.ControlLimit <= 0 {
		o.ControlLimit = 5
	}
	if o.ControlWindow <= 0 {
		o.ControlWindow = 60 * time.Second
	}
	if o.StatusLimit <= 0 {
		o.StatusLimit = 20
	}
	if o.ReloadDelay <= 0 {
		o.ReloadDelay = 50 * time.Millisecond
	}
	s := &Sim{o: o, state: o.InitialState, windows: map[string][]time.Time{}, nextTradeID: 1}
	for i := 0; i < o.OpenTrades; i++ {
		s.openTradeLocked("BTC/USDT")
	}
	if o.SecretsConfigPath != "" {
		if _, err := os.Stat(o.SecretsConfigPath); err == nil {
			s.loadSecretsLocked()
		}
	}
	return s, nil
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves.
func (s *Sim) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("freqtradesim: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.ln, s.cancel = ln, cancel
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	if s.o.TradeEvery > 0 && s.o.Trader != nil {
		s.wg.Add(1)
		go s.tradeLoop(ctx)
	}
	return nil
}

// URL is the base URL (http://127.0.0.1:port), without /api/v1.
func (s *Sim) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server and the demo trading loop.
func (s *Sim) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	var err error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = s.srv.Shutdown(ctx)
	}
	s.wg.Wait()
	return err
}

// State is freqtrade's state name: running, paused, stopped, reload_config.
func (s *Sim) State() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// OpenTrades counts open trades.
func (s *Sim) OpenTrades() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.trades)
}

// OpenTrade opens a trade on pair as the strategy would (only while
// running: a paused or stopped bot enters nothing). It reports whether a
// trade was opened.
func (s *Sim) OpenTrade(pair string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stRunning {
		return false
	}
	s.openTradeLocked(pair)
	return true
}

func (s *Sim) openTradeLocked(pair string) {
	s.trades = append(s.trades, trade{ID: s.nextTradeID, Pair: pair, Open: s.nowLocked()})
	s.nextTradeID++
}

// CredentialsFingerprint is bot.Credentials.Fingerprint of the credentials
// the bot loaded last ("" before any).
func (s *Sim) CredentialsFingerprint() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creds.Empty() {
		return ""
	}
	return s.creds.Fingerprint()
}

// LoadedAPIKey is the public key id the bot trades with now.
func (s *Sim) LoadedAPIKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creds.APIKey
}

// SecretsFileWas0600 reports whether the secrets config file had mode 0600
// when the bot last read it.
func (s *Sim) SecretsFileWas0600() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets0600
}

// Reloads counts completed reload_config runs; LastReloadError is the
// error of the last one reading the secrets file (nil when fine).
func (s *Sim) Reloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloads
}

// LastReloadError see Reloads.
func (s *Sim) LastReloadError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadErr
}

// ControlCalls lists the control calls the bot executed, in order
// ("/stopentry", "/forceexit", "/stop" …); refused calls are not listed.
func (s *Sim) ControlCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Advance moves the simulator's clock forward (token expiry, rate-limit
// windows) without sleeping.
func (s *Sim) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skew += d
}

func (s *Sim) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

func (s *Sim) nowLocked() time.Time { return time.Now().Add(s.skew) }

// loadSecretsLocked reads the secrets config file as freqtrade would on
// (re)start, and notes its permissions.
func (s *Sim) loadSecretsLocked() {
	s.reloadErr = nil
	fi, err := os.Stat(s.o.SecretsConfigPath)
	if err != nil {
		s.reloadErr = err
		return
	}
	s.secrets0600 = fi.Mode().Perm() == 0o600
	c, err := readSecrets(s.o.SecretsConfigPath)
	if err != nil {
		s.reloadErr = err
		return
	}
	c.Exchange = s.o.Exchange
	s.creds = c
}

func (s *Sim) tradeLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.o.TradeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		running, creds := s.state == stRunning, s.creds
		s.mu.Unlock()
		if !running || creds.Empty() {
			continue
		}
		if err := s.o.Trader(ctx, creds); err != nil {
			s.mu.Lock()
			s.tradeErrs++
			s.mu.Unlock()
		}
	}
}

// TradeErrors counts failed Trader calls (e.g. a revoked key).
func (s *Sim) TradeErrors() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tradeErrs
}

// Logins and Refreshes count successful POST /token/login and
// /token/refresh calls.
func (s *Sim) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Refreshes see Logins.
func (s *Sim) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}
