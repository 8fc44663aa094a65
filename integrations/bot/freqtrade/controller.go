package freqtrade

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keyresponse/runbook/integrations/bot"
)

// freqtrade's own state names (show_config "state").
const (
	ftRunning = "running"
	ftPaused  = "paused" // stopentry: no new entries, open trades still managed
	ftStopped = "stopped"
	ftReload  = "reload_config"
)

// Options configure a Controller.
type Options struct {
	BotID    string
	BaseURL  string // e.g. http://127.0.0.1:8080 (without /api/v1)
	Username string
	Password string
	// SecretsConfigPath is the file DeliverCredentials writes; empty
	// disables delivery.
	SecretsConfigPath string
	// Exchange the bot trades on; credentials for another are refused.
	Exchange   string
	HTTPClient *http.Client // default: 10 s timeout
	// VerifyAttempts and VerifyInterval bound how often /show_config is
	// read to confirm a state change (default 5 × 200 ms).
	VerifyAttempts int
	VerifyInterval time.Duration
	// ReloadWait bounds the wait for reload_config to finish (default 10 s).
	ReloadWait time.Duration
}

// Controller drives one freqtrade bot. It implements bot.Controller.
type Controller struct {
	o Options
	c *client
}

var _ bot.Controller = (*Controller)(nil)

// New builds a Controller (no network traffic until the first call).
func New(o Options) (*Controller, error) {
	if o.BotID == "" || o.BaseURL == "" || o.Username == "" {
		return nil, errors.New("freqtrade: bot id, base url and username are required")
	}
	if o.Password == "" {
		return nil, errNoPassword
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.VerifyAttempts <= 0 {
		o.VerifyAttempts = 5
	}
	if o.VerifyInterval <= 0 {
		o.VerifyInterval = 200 * time.Millisecond
	}
	if o.ReloadWait <= 0 {
		o.ReloadWait = 10 * time.Second
	}
	base := strings.TrimSuffix(strings.TrimSuffix(o.BaseURL, "/"), apiPrefix)
	return &Controller{o: o, c: &client{botID: o.BotID, base: base, user: o.Username, password: o.Password, http: o.HTTPClient}}, nil
}

// Status reads the bot's state (/show_config) and its open trades (/status).
func (f *Controller) Status(ctx context.Context) (bot.Status, error) {
	raw, err := f.rawState(ctx, "status")
	if err != nil {
		return bot.Status{}, err
	}
	return f.status(ctx, "status", raw)
}

// Freeze: stopentry (no new positions), forceexit when asked (only works
// while the trader is not stopped), stop; then confirm the bot reports
// stopped. A bot that is already stopped is left alone unless a force exit
// was asked and it still holds trades.
func (f *Controller) Freeze(ctx context.Context, opts bot.FreezeOptions) (bot.Status, error) {
	const op = "freeze"
	raw, err := f.settledState(ctx, op)
	if err != nil {
		return bot.Status{}, err
	}
	if raw == ftStopped {
		st, err := f.status(ctx, op, raw)
		if err != nil || !opts.ForceExit || st.OpenTrades == 0 {
			return st, err
		}
		// stopentry on a stopped bot leaves it paused, where forceexit works.
	}
	if raw != ftPaused {
		if err := f.c.call(ctx, op, http.MethodPost, "/stopentry", nil, nil); err != nil {
			return bot.Status{}, err
		}
	}
	if opts.ForceExit {
		body := map[string]string{"tradeid": "all", "ordertype": "market"}
		if err := f.c.call(ctx, op, http.MethodPost, "/forceexit", body, nil); err != nil {
			return bot.Status{}, err
		}
	}
	if err := f.c.call(ctx, op, http.MethodPost, "/stop", nil, nil); err != nil {
		return bot.Status{}, err
	}
	return f.verify(ctx, op, ftStopped)
}

// Unfreeze: start, then confirm the bot reports running.
func (f *Controller) Unfreeze(ctx context.Context) (bot.Status, error) {
	const op = "unfreeze"
	raw, err := f.settledState(ctx, op)
	if err != nil {
		return bot.Status{}, err
	}
	if raw == ftRunning {
		return f.status(ctx, op, raw)
	}
	if err := f.c.call(ctx, op, http.MethodPost, "/start", nil, nil); err != nil {
		return bot.Status{}, err
	}
	return f.verify(ctx, op, ftRunning)
}

// DeliverCredentials writes the secrets config file (atomically, 0600) and
// makes freqtrade reload its configuration, keeping the bot's run state.
func (f *Controller) DeliverCredentials(ctx context.Context, c bot.Credentials) error {
	const op = "deliver"
	if f.o.SecretsConfigPath == "" {
		return bot.Errorf(bot.KindInvalid, f.o.BotID, op, "no secrets_config_path configured")
	}
	if err := (bot.BotConfig{ID: f.o.BotID, Exchange: f.o.Exchange}).CheckExchange(c); err != nil {
		return err
	}
	// Read the state first: a failure here must stop us before the file
	// changes, and the reload below must end in this same state.
	before, err := f.settledState(ctx, op)
	if err != nil {
		return err
	}
	if err := WriteSecretsConfig(f.o.SecretsConfigPath, c); err != nil {
		return &bot.Error{Kind: bot.KindUnavailable, Bot: f.o.BotID, Op: op, Message: "write secrets config", Err: err}
	}
	return f.reloadKeeping(ctx, op, before)
}

// Reload makes freqtrade re-read its configuration, keeping the run state.
func (f *Controller) Reload(ctx context.Context) error {
	before, err := f.settledState(ctx, "reload")
	if err != nil {
		return err
	}
	return f.reloadKeeping(ctx, "reload", before)
}

// reloadKeeping posts reload_config and puts the bot back into state
// before. freqtrade rebuilds the bot on reload and starts it in the
// config's initial_state (default stopped), so without this a reload would
// unfreeze a frozen bot whose config says "running", or stop a running one.
func (f *Controller) reloadKeeping(ctx context.Context, op, before string) error {
	if err := f.c.call(ctx, op, http.MethodPost, "/reload_config", nil, nil); err != nil {
		return err
	}
	after, err := f.waitReloaded(ctx, op)
	if err != nil {
		return err
	}
	if after == before {
		return nil
	}
	var path string
	switch before {
	case ftStopped:
		path = "/stop"
	case ftPaused:
		path = "/stopentry"
	case ftRunning:
		path = "/start"
	default:
		return nil
	}
	if err := f.c.call(ctx, op, http.MethodPost, path, nil, nil); err != nil {
		return err
	}
	_, err = f.verify(ctx, op, before)
	return err
}

// waitReloaded reads /show_config until the reload is over (bounded).
func (f *Controller) waitReloaded(ctx context.Context, op string) (string, error) {
	deadline := time.Now().Add(f.o.ReloadWait)
	for {
		raw, err := f.rawState(ctx, op)
		if err != nil && bot.KindOf(err) != bot.KindUnavailable {
			return "", err
		}
		if err == nil && raw != ftReload {
			return raw, nil
		}
		if time.Now().After(deadline) {
			return "", bot.Errorf(bot.KindNotVerified, f.o.BotID, op, "reload_config did not finish within %s", f.o.ReloadWait)
		}
		if err := sleep(ctx, f.o.VerifyInterval); err != nil {
			return "", err
		}
	}
}

// settledState is rawState, waiting out a reload in progress.
func (f *Controller) settledState(ctx context.Context, op string) (string, error) {
	raw, err := f.rawState(ctx, op)
	if err != nil || raw != ftReload {
		return raw, err
	}
	return f.waitReloaded(ctx, op)
}

// verify reads the state up to VerifyAttempts times until it is want.
func (f *Controller) verify(ctx context.Context, op, want string) (bot.Status, error) {
	var raw string
	for i := 0; i < f.o.VerifyAttempts; i++ {
		if i > 0 {
			if err := sleep(ctx, f.o.VerifyInterval); err != nil {
				return bot.Status{}, err
			}
		}
		var err error
		raw, err = f.rawState(ctx, op)
		if err != nil {
			return bot.Status{}, err
		}
		if raw == want {
			return f.status(ctx, op, raw)
		}
	}
	st, _ := f.status(ctx, op, raw)
	return st, bot.Errorf(bot.KindNotVerified, f.o.BotID, op, "bot reports %q, want %q", raw, want)
}

func (f *Controller) rawState(ctx context.Context, op string) (string, error) {
	var cfg struct {
		State string `json:"state"`
	}
	if err := f.c.call(ctx, op, http.MethodGet, "/show_config", nil, &cfg); err != nil {
		return "", err
	}
	return cfg.State, nil
}

func (f *Controller) status(ctx context.Context, op, raw string) (bot.Status, error) {
	var trades []map[string]any
	if err := f.c.call(ctx, op, http.MethodGet, "/status", nil, &trades); err != nil {
		return bot.Status{}, err
	}
	st := bot.Status{State: mapState(raw), OpenTrades: len(trades), Detail: "freqtrade state " + raw}
	if raw == ftPaused {
		st.Detail = "freqtrade paused: no new entries, open trades still managed"
	}
	return st, nil
}

// mapState: only "stopped" means freqtrade places no orders; paused still
// manages (exits) open trades, so it counts as running.
func mapState(raw string) bot.State {
	switch raw {
	case ftStopped:
		return bot.Frozen
	case ftRunning, ftPaused:
		return bot.Running
	}
	return bot.Unknown
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting for the bot: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
