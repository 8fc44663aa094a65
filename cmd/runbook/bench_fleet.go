package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	exact "github.com/keyresponse/runbook/activities/exchange"
	ibot "github.com/keyresponse/runbook/integrations/bot"
	"github.com/keyresponse/runbook/integrations/bot/bottest"
	"github.com/keyresponse/runbook/integrations/bot/webhook"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/exchangesim"
	"github.com/keyresponse/runbook/integrations/secrets"
)

// The bench fleet: many bots, each with its own Binance sub-account in the
// exchange simulator and its own sloppy key (trade + withdraw, no IP
// whitelist), so every incident has a bot and a key of its own.
//
// The bots are the cheapest real path through the engine: in-memory bots
// (bottest.MemBot) behind the webhook transport's Receiver, all mounted on
// one HTTP server at /bots/<id>. Every freeze, deliver and unfreeze is a
// signed HTTP call from the engine's webhook controller that the bot
// checks (signature, window, nonce) and answers, exactly as a Go bot that
// mounts webhook.Receiver would; one listener instead of 1,000 keeps the
// file-descriptor count and the per-bot goroutines out of the figures.
const (
	benchExchange = "binance"
	benchBotIP    = "127.0.0.10"
	benchAttacker = "127.0.0.66"
)

// fleetBot is one seeded bot.
type fleetBot struct {
	ID    string
	Sub   exchangesim.Account
	Key   exchangesim.Key // the leaked key (holds its secret: never printed)
	State *benchBot
}

// fleet is every seeded bot plus the server they answer on.
type fleet struct {
	mu   sync.Mutex
	bots []*fleetBot
	srv  *http.Server
	url  string
	sim  *exchangesim.Sim
	recv map[string]http.Handler // webhook receivers by bot id
}

// benchBot is a MemBot that remembers when it confirmed the first freeze
// and the first delivery of new credentials: the bot's own clock, so
// "frozen" means the bot said so, not that the engine asked.
type benchBot struct {
	*bottest.MemBot
	mu        sync.Mutex
	frozenAt  time.Time
	deliverAt time.Time
	notify    chan struct{}
}

func newBenchBot() *benchBot {
	return &benchBot{MemBot: bottest.New(1), notify: make(chan struct{}, 4)}
}

func (b *benchBot) Freeze(ctx context.Context, forceExit bool) (ibot.Status, error) {
	st, err := b.MemBot.Freeze(ctx, forceExit)
	if err == nil {
		b.mu.Lock()
		if b.frozenAt.IsZero() {
			b.frozenAt = time.Now()
		}
		b.mu.Unlock()
		b.poke()
	}
	return st, err
}

func (b *benchBot) Deliver(ctx context.Context, c ibot.Credentials) error {
	err := b.MemBot.Deliver(ctx, c)
	if err == nil {
		b.mu.Lock()
		if b.deliverAt.IsZero() {
			b.deliverAt = time.Now()
		}
		b.mu.Unlock()
		b.poke()
	}
	return err
}

func (b *benchBot) poke() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *benchBot) times() (frozen, delivered time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.frozenAt, b.deliverAt
}

// startFleet starts the bots' HTTP server (before the exchange exists, so
// the seed hook only has to create accounts).
func startFleet() (*fleet, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fleet{url: "http://" + l.Addr().String(), recv: map[string]http.Handler{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/bots/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		h, ok := f.recv[r.PathValue("id")]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

func (f *fleet) close() {
	if f != nil && f.srv != nil {
		_ = f.srv.Close()
	}
}

// seed creates n bots named <prefix>-<i> on the simulator's Binance
// dialect under the demo main account (whose management key the engine
// holds), stores each bot's key and webhook signing key in the secret store,
// and returns the bots' configuration for the engine.
func (f *fleet) seed(ctx context.Context, ex *devExchange, store secrets.Store, prefix string, n int) ([]*fleetBot, botSetup, error) {
	return f.seedOn(ctx, ex, store, prefix, n, benchExchange)
}

// seedOn is seed with the bots' exchange account named account: any other
// name than the simulator's own becomes an alias of it (same exchange, same
// management key), so one fleet can be breached account-wide alone.
func (f *fleet) seedOn(ctx context.Context, ex *devExchange, store secrets.Store, prefix string, n int, account string) ([]*fleetBot, botSetup, error) {
	setup := botSetup{facts: map[string]botFacts{}}
	demo, ok := ex.demo.Find(benchExchange)
	if !ok {
		return nil, setup, fmt.Errorf("no %s demo account", benchExchange)
	}
	if account != benchExchange {
		cfg, ok := ex.accounts[benchExchange]
		if !ok {
			return nil, setup, fmt.Errorf("no %s account to alias", benchExchange)
		}
		setup.accounts = map[string]xchg.Config{account: cfg}
	}
	f.sim = ex.sim
	var out []*fleetBot
	recv := map[string]http.Handler{}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		sub, err := ex.sim.CreateAccount(benchExchange, id, demo.Main.ID)
		if err != nil {
			return nil, setup, err
		}
		key, err := ex.sim.CreateKey(exchangesim.KeySpec{Exchange: benchExchange, Account: sub.ID, Label: id,
			Perms: exchangesim.Perms{Read: true, Trade: true, Withdraw: true}})
		if err != nil {
			return nil, setup, err
		}
		ex.sim.SetBalance(sub.ID, "USDT", 1e9)
		ex.sim.SetBalance(sub.ID, "BTC", 10)
		for j, price := range []float64{50000, 51000} {
			if _, err := ex.sim.PlaceOrder(exchangesim.Order{Account: sub.ID, KeyID: key.ID, Symbol: "BTCUSDT", Side: "buy",
				Type: "limit", Price: price, Amount: 0.01, ClientOrderID: fmt.Sprintf("%s-%d", id, j)}); err != nil {
				return nil, setup, err
			}
		}
		subRef := subAccountRef(benchExchange, sub)
		if _, err := store.Put(ctx, exact.DefaultSecretName(benchExchange, subRef), exact.EncodeCredential(credOf(key)),
			map[string]string{"key_id": key.ID, "role": "bot"}); err != nil {
			return nil, setup, err
		}
		signing := []byte(randomHex(32))
		signingRef := "bots/" + id + "/webhook-key"
		if _, err := store.Put(ctx, signingRef, signing, map[string]string{"bot": id}); err != nil {
			return nil, setup, err
		}
		b := newBenchBot()
		recv[id] = webhook.NewReceiver(id, signing, b)
		setup.controllers = append(setup.controllers, ibot.BotConfig{ID: id, Kind: ibot.KindWebhook, URL: f.url + "/bots/" + id,
			SigningKeyRef: signingRef, Exchange: benchExchange, Account: account})
		setup.facts[id] = botFacts{account: account, subAccount: subRef, ips: []string{benchBotIP},
			engineIPs: []string{demoEngineIP}, keyID: key.ID, verifyFrom: benchBotIP}
		out = append(out, &fleetBot{ID: id, Sub: sub, Key: key, State: b})
	}
	f.mu.Lock()
	for k, v := range recv {
		f.recv[k] = v
	}
	f.bots = append(f.bots, out...)
	f.mu.Unlock()
	return out, setup, nil
}
