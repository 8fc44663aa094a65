package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/activities"
	exact "github.com/keyresponse/runbook/activities/exchange"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/freqtrade/freqtradesim"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/workflows"
)

// Rehearsals run the breach runbook end to end without touching a real key.
// For every configured bot B the worker configures a rehearsal bot
// "rehearsal-B" (workflows.RehearsalBotID): its exchange account is
// "drill-sim-<exchange>", a main account on the exchange simulator with its
// own management key, its sub-account "rehearsal-B" lives there, and its bot
// is a simulated freqtrade in this process. drill.prepare_rehearsal reads
// the real key's permissions and whitelist (KeyInfo, read-only, bounded by
// a short timeout) and puts a key with the same settings on the mirror
// sub-account; the runbook then runs on rehearsal-B, so every mutating call
// goes to the simulator. When the real exchange cannot be asked, the mirror
// assumes the worst settings (trade + withdraw, no whitelist) and says so.
type rehearsals struct {
	sim      *exchangesim.Sim
	store    secrets.Store
	prod     func(ctx context.Context, name string) (xchg.Exchange, error)
	accounts map[string]xchg.Config // the drill-sim-<exchange> accounts
	bots     map[string]*rehearsalBot
	setup    botSetup
}

type rehearsalBot struct {
	real        string
	exchange    string
	sub         exchangesim.Account
	secretName  string
	secretsFile string
	ips         []string
	ft          *freqtradesim.Sim
}

// rehearsalAccount names the simulator account rehearsals of an exchange use.
func rehearsalAccount(exchange string) string { return "drill-sim-" + exchange }

// startRehearsals seeds the simulator with a rehearsal main account per
// exchange and a mirror sub-account and simulated bot per configured bot.
// prodAccounts are the real accounts (only read, for KeyInfo).
func startRehearsals(ctx context.Context, sim *exchangesim.Sim, store secrets.Store, home string,
	bots botSetup, prodAccounts map[string]xchg.Config) (*rehearsals, error) {
	r := &rehearsals{sim: sim, store: store, prod: exact.ConfigResolver(prodAccounts, store),
		accounts: map[string]xchg.Config{}, bots: map[string]*rehearsalBot{}, setup: botSetup{facts: map[string]botFacts{}}}
	mains := map[string]exchangesim.Account{}
	for _, ex := range sim.Dialects() {
		main, err := sim.CreateAccount(ex, "drill-main", "")
		if err != nil {
			return nil, err
		}
		mgmt, err := sim.CreateKey(exchangesim.KeySpec{Exchange: ex, Account: main.ID, Label: "drill-management",
			Perms: exchangesim.Perms{Read: true, ManageKeys: true}, IPs: []string{demoEngineIP}, Passphrase: "Drill-" + randomHex(4)})
		if err != nil {
			return nil, err
		}
		ref := "drill/" + ex + "/management"
		if _, err := store.Put(ctx, ref, exact.EncodeCredential(credOf(mgmt)), map[string]string{"key_id": mgmt.ID, "role": "management"}); err != nil {
			return nil, err
		}
		r.accounts[rehearsalAccount(ex)] = xchg.Config{Exchange: ex, BaseURL: sim.DialectURL(ex), ManagementKeyRef: ref}
		mains[ex] = main
	}
	ids := make([]string, 0, len(bots.facts))
	for id := range bots.facts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := bots.facts[id]
		acct, ok := prodAccounts[f.account]
		if !ok {
			continue // bot.info reports the misconfiguration on real incidents
		}
		main, ok := mains[acct.Exchange]
		if !ok {
			continue
		}
		if err := r.addBot(ctx, home, id, f, acct.Exchange, main); err != nil {
			r.close()
			return nil, fmt.Errorf("rehearsal bot for %s: %w", id, err)
		}
	}
	return r, nil
}

func (r *rehearsals) addBot(ctx context.Context, home, real string, f botFacts, exchange string, main exchangesim.Account) error {
	rid := workflows.RehearsalBotID(real)
	sub, err := r.sim.CreateAccount(exchange, rid, main.ID)
	if err != nil {
		return err
	}
	dir := filepath.Join(home, "bots", rid)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	secretsFile := filepath.Join(dir, "secrets.json")
	if err := writeFreqtradeSecrets(secretsFile, "none", "none"); err != nil {
		return err
	}
	password := randomHex(16)
	passwordRef := "bots/" + rid + "/api-password"
	if _, err := r.store.Put(ctx, passwordRef, []byte(password), map[string]string{"bot": rid}); err != nil {
		return err
	}
	ft, err := freqtradesim.New(freqtradesim.Options{BotName: rid, Password: password, InitialState: "running",
		SecretsConfigPath: secretsFile, Exchange: exchange, OpenTrades: 1,
		// Rehearsals run drill after drill: no control rate limit to trip.
		ControlLimit: 1000, ControlWindow: time.Second})
	if err != nil {
		return err
	}
	if err := ft.Start(net.JoinHostPort("127.0.0.1", "0")); err != nil {
		return err
	}
	subRef := subAccountRef(exchange, sub)
	b := &rehearsalBot{real: real, exchange: exchange, sub: sub, secretName: "drill/" + rid + "/api-key",
		secretsFile: secretsFile, ips: f.ips, ft: ft}
	r.bots[real] = b
	r.setup.controllers = append(r.setup.controllers, ibot.BotConfig{ID: rid, Kind: ibot.KindFreqtrade, URL: ft.URL(),
		Username: "freqtrader", PasswordRef: passwordRef, SecretsConfigPath: secretsFile, Exchange: exchange,
		Account: rehearsalAccount(exchange)})
	r.setup.facts[rid] = botFacts{account: rehearsalAccount(exchange), subAccount: subRef, ips: f.ips,
		engineIPs: f.engineIPs, credentialRef: b.secretName, verifyFrom: f.verifyFrom}
	return nil
}

// withAccounts returns prod plus the rehearsal accounts.
func (r *rehearsals) withAccounts(prod map[string]xchg.Config) map[string]xchg.Config {
	out := map[string]xchg.Config{}
	for k, v := range prod {
		out[k] = v
	}
	if r != nil {
		for k, v := range r.accounts {
			out[k] = v
		}
	}
	return out
}

// prepare mirrors the real key on the bot's rehearsal sub-account. A retry
// revokes the mirror an earlier attempt made before making a fresh one:
// the runbook has not started yet, so nothing else holds it.
func (r *rehearsals) prepare(ctx context.Context, req workflows.RehearsalRequest) (workflows.Rehearsal, error) {
	if r == nil {
		return workflows.Rehearsal{}, activities.NonRetryable(activities.ErrInvalidParams, fmt.Errorf("this worker has no exchange simulator for rehearsals"))
	}
	b, ok := r.bots[req.Bot]
	if !ok {
		return workflows.Rehearsal{}, activities.NonRetryable(activities.ErrInvalidParams, fmt.Errorf("no rehearsal bot for %q", req.Bot))
	}
	perms := exchangesim.Perms{Read: true, Trade: true, Withdraw: true}
	var ips []string
	source := "exchange"
	if real, err := r.readReal(ctx, req); err != nil {
		source = "assumed worst case (trade+withdraw, no whitelist): real key unreadable: " + err.Error()
	} else {
		perms = exchangesim.Perms{Read: real.Permissions.Read, Trade: real.Permissions.Trade, Futures: real.Permissions.Futures, Withdraw: real.Permissions.Withdraw}
		ips = real.IPWhitelist
	}
	for _, k := range r.sim.Keys(b.exchange, b.sub.ID, false) {
		_ = r.sim.RevokeKey(b.exchange, k.ID)
	}
	mirror, err := r.sim.CreateKey(exchangesim.KeySpec{Exchange: b.exchange, Account: b.sub.ID, Label: workflows.RehearsalBotID(b.real),
		Perms: perms, IPs: ips, Passphrase: "Mirror-" + randomHex(4)})
	if err != nil {
		return workflows.Rehearsal{}, activities.Retryable(activities.ErrUnavailable, err)
	}
	if _, err := r.store.Put(ctx, b.secretName, exact.EncodeCredential(credOf(mirror)),
		map[string]string{"key_id": mirror.ID, "role": "rehearsal", "drill": req.DrillID}); err != nil {
		return workflows.Rehearsal{}, activities.Retryable(exact.ErrSecretStore, err)
	}
	if err := writeFreqtradeSecrets(b.secretsFile, mirror.ID, mirror.Secret); err != nil {
		return workflows.Rehearsal{}, err
	}
	p := xchg.Permissions{Read: perms.Read, Trade: perms.Trade, Futures: perms.Futures, Withdraw: perms.Withdraw}
	return workflows.Rehearsal{Bot: workflows.RehearsalBotID(b.real), MirrorKeyID: mirror.ID, Permissions: p.String(),
		IPWhitelist: nonNilStrings(ips), Source: source}, nil
}

// readReal asks the real exchange about the real key, read-only, once.
func (r *rehearsals) readReal(ctx context.Context, req workflows.RehearsalRequest) (xchg.Key, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ex, err := r.prod(ctx, req.Account)
	if err != nil {
		return xchg.Key{}, err
	}
	return ex.KeyInfo(ctx, req.SubAccount, req.KeyID)
}

// register adds drill.prepare_rehearsal to the worker.
func (r *rehearsals) register(w worker.Worker) {
	w.RegisterActivityWithOptions(r.prepare, activity.RegisterOptions{Name: workflows.DrillPrepareRehearsalActivity})
}

func (r *rehearsals) close() {
	if r == nil {
		return
	}
	for _, b := range r.bots {
		_ = b.ft.Close()
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// rehearsalAccounts is the dev simulator's demo accounts plus extra
// (configured) accounts, as a fresh map.
func (d *devExchange) rehearsalAccounts(extra map[string]xchg.Config) map[string]xchg.Config {
	out := map[string]xchg.Config{}
	for k, v := range d.accounts {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
