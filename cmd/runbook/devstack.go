package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
	xchg "github.com/keyresponse/runbook/integrations/exchange"
	"github.com/keyresponse/runbook/integrations/natsdev"
	"github.com/keyresponse/runbook/integrations/observability"
	"github.com/keyresponse/runbook/integrations/observability/webui"
	"github.com/keyresponse/runbook/integrations/secrets"
	"github.com/keyresponse/runbook/integrations/temporalcodec"
	"github.com/keyresponse/runbook/integrations/temporaldev"
)

// devOptions configure the embedded stack of `runbook dev`.
type devOptions struct {
	home         string // state directory: temporal.db, nats/, logs
	temporalPort int
	natsPort     int
	taskQueue    string
	console      io.Writer
	allowedHosts []string
	identity     string
	// publishers, when set, are the lane publishers instead of the
	// config's (the bench's monitor and flooder).
	publishers []ingest.Lane
	// books are the runbooks the trigger consumer matches events against.
	books func() []ingest.LoadedRunbook
	// limits cap automatic incidents (blast radius); zero means no cap.
	limits ingest.LimitConfig
	// exchangeSimPort is the exchange simulator's port (0 = any); -1 runs none.
	exchangeSimPort int
	demoBot         string
	// demoBotPort is the demo freqtrade bot's port (0 = any; -1 = none).
	demoBotPort int
	// bots are configured bots (config file); the demo bot is added.
	bots botSetup
	// cfg is the config file's content (operators, roles, engine key,
	// authz) and cfgFile its path, re-read on SIGHUP ("" = none); dev
	// adds its provisioned operator (authz_wiring.go).
	cfg     *config.Config
	cfgFile string
	// runbookDirs are registered with the worker beside the shipped runbooks.
	runbookDirs []string
	// oncall is the roster (config file); empty means two dev people.
	oncall config.Oncall
	// httpPort serves inbound SMS webhooks and metrics (0 = any; -1 = none).
	httpPort int
	// alertmanagerPort is the Alertmanager bridge's own port on 127.0.0.1
	// when the config names no address (0 = any; -1 = none); alertmanager
	// is the config file's section (auth from there, else a provisioned
	// token in home).
	alertmanagerPort int
	alertmanager     config.Alertmanager
	// uiPort serves the Temporal Web UI (0 = any; -1 = none).
	uiPort int
	// seedBots, when set, adds bots after the exchange simulator started
	// and before the worker registers the actions (runbook bench seeds a
	// fleet of sub-accounts and bots this way).
	seedBots func(ctx context.Context, ex *devExchange, store secrets.Store) (botSetup, error)
	// register adds workflows and activities to the worker before it
	// starts (runbook bench's floor and hand-written workflows).
	register func(w worker.Worker)
	// consumerBatch is the trigger consumer's batch size (0 = default).
	consumerBatch int
	// starter: eventSettings.starter ("" = eager).
	starter string
	// exchanges are configured exchange accounts (config file): beside the
	// simulator's demo accounts, or alone when no simulator runs
	// (exchangeSimPort -1) and the engine talks to an exchange outside.
	exchanges map[string]xchg.Config
	// auditKeys sign the audit trail; empty: the home's audit-keys file,
	// created on first start.
	auditKeys audit.Keys
	// streams bound the breach streams and the consumer's prefetch (the
	// config's streams section; zero: the defaults).
	streams streamSettings
	// exchangeTimeout, when set, bounds each HTTP request to an exchange
	// (the adapters' timeout_ms; default 30s): the fault suite makes slow
	// answers time out without waiting half a minute each.
	exchangeTimeout time.Duration
}

// devStack is everything `runbook dev` runs in one process.
type devStack struct {
	// lanes are the publisher lanes its NATS was started with.
	lanes    []ingest.Lane
	temporal *temporaldev.Server
	nats     *natsdev.Server
	client   client.Client
	worker   worker.Worker
	events   *natsSide
	exchange *devExchange
	demoBot  *demoBot
	sms      *smsSetup
	http     *httpServer
	bridge   *alertmanagerServer // the Alertmanager bridge's own listener
	metrics  *observability.Metrics
	ui       *webui.Server
	// rehearsals mirror every bot on the simulator for rehearse drills.
	rehearsals *rehearsals
	secrets    secrets.Store
	keyring    breach.Keyring
	// payloadKeys encrypt every Temporal payload (inputs, results, failures).
	payloadKeys *temporalcodec.Keyring
	// authz is who may act: the provisioned operator, the engine key.
	authz      *authzRuntime
	stopReload func()
	opts       devOptions
}

// startDevStack starts Temporal (SQLite file), NATS JetStream (file store)
// and the worker, all on 127.0.0.1, with state under opts.home so a restart
// picks up where it stopped.
func startDevStack(ctx context.Context, o devOptions) (_ *devStack, err error) {
	s := &devStack{opts: o}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	lanes := devLanes(o)
	s.lanes = lanes
	s.nats, err = startDevNATS(o.home, o.natsPort, lanes)
	if err != nil {
		return nil, fmt.Errorf("nats: %w (is another server on port %d? try --nats-port)", err, o.natsPort)
	}
	s.temporal, err = temporaldev.Start(temporaldev.Options{
		DBFile:       filepath.Join(o.home, "temporal.db"),
		FrontendPort: o.temporalPort,
		LogFile:      filepath.Join(o.home, "temporal.log"),
		PortsFile:    filepath.Join(o.home, "temporal-ports.json"),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal: %w (is another server on port %d? try --temporal-port)", err, o.temporalPort)
	}
	if s.payloadKeys, err = temporalcodec.LoadOrCreateKeyFile(payloadKeyFile(o.home), "dev"); err != nil {
		return nil, fmt.Errorf("payload encryption key: %w", err)
	}
	s.metrics = observability.NewMetrics()
	s.client, err = dial(ctx, s.temporal.HostPort(), s.temporal.Namespace(), o.identity, s.payloadKeys, s.metrics.TemporalMetricsHandler())
	if err != nil {
		return nil, err
	}
	s.secrets, err = secrets.OpenFile(filepath.Join(o.home, "secrets"), "")
	if err != nil {
		return nil, fmt.Errorf("secret store: %w", err)
	}
	if s.keyring, err = ensureDevKeyring(o.home); err != nil {
		return nil, fmt.Errorf("event signing keys: %w", err)
	}
	auditKeys := o.auditKeys
	if len(auditKeys.Ring) == 0 {
		auditKeys, err = ensureDevAuditKeys(o.home)
	}
	if err != nil {
		return nil, fmt.Errorf("audit keys: %w", err)
	}
	es := eventSettings{
		auditKeys:        auditKeys,
		streams:          o.streams,
		natsURL:          s.nats.URL(),
		conn:             ingest.ConnOptions{NKeyFile: natsauth.SeedFile(devNATSUsersDir(o.home), natsauth.RoleEngine)},
		keyring:          s.keyring,
		window:           5 * time.Minute,
		limits:           o.limits,
		namespace:        s.temporal.Namespace(),
		taskQueue:        o.taskQueue,
		payloadKeys:      s.payloadKeys,
		searchAttributes: true,
		batchSize:        o.consumerBatch,
		starter:          o.starter,
		lanes:            lanes,
		// Text on the dev console; secret-looking attributes are masked.
		logger: observability.NewLogger(observability.LogOptions{Format: "text", Level: slog.LevelWarn, Writer: o.console}),
	}
	if s.events, err = connectEvents(ctx, es); err != nil {
		return nil, err
	}
	s.metrics.Registry().MustRegister(observability.StreamCollector(s.events.capacity.Usage, ingest.PublishRefused))
	if s.sms, err = startDevSMS(o.home, o.oncall, o.console); err != nil {
		return nil, err
	}
	cfg := o.cfg
	if cfg == nil {
		cfg = &config.Config{}
	}
	if s.authz, err = buildAuthz(authzSource{file: o.cfgFile, cfg: cfg, home: o.home, dev: true, dirs: o.runbookDirs, books: o.books,
		smsCodeKey: s.sms.codeKey, logger: es.logger}); err != nil {
		return nil, err
	}
	s.authz.auditRefusals(s.events.store)
	s.stopReload = s.authz.watchReload(o.console)
	es.sign = s.authz.signer()
	deps := actionDeps{console: o.console, allowedHosts: o.allowedHosts, secrets: s.secrets, nats: s.events.nc, bots: o.bots, sms: s.sms,
		exchanges: o.exchanges, authz: s.authz.live}
	if o.exchangeSimPort >= 0 {
		if o.demoBot == "" {
			o.demoBot = "bot-1"
		}
		s.exchange, err = startDevExchange(ctx, o.exchangeSimPort, o.demoBot, s.secrets, nil)
		if err != nil {
			return nil, err
		}
		deps.exchanges = s.exchange.accounts
		if o.demoBotPort >= 0 {
			if s.demoBot, err = startDemoBot(ctx, o, s.exchange, s.secrets); err != nil {
				return nil, err
			}
			deps.bots = mergeBots(deps.bots, s.demoBot.setup)
		}
		deps.exchanges = s.exchange.rehearsalAccounts(o.exchanges)
		if s.rehearsals, err = startRehearsals(ctx, s.exchange.sim, s.secrets, o.home, deps.bots, deps.exchanges); err != nil {
			return nil, err
		}
		deps.bots = mergeBots(deps.bots, s.rehearsals.setup)
		deps.exchanges = s.rehearsals.withAccounts(deps.exchanges)
		// After the rehearsal twins: a benchmark fleet gets none.
		if o.seedBots != nil {
			extra, err := o.seedBots(ctx, s.exchange, s.secrets)
			if err != nil {
				return nil, fmt.Errorf("seed bots: %w", err)
			}
			deps.bots = mergeBots(deps.bots, extra)
			if len(extra.accounts) > 0 {
				merged := make(map[string]xchg.Config, len(deps.exchanges)+len(extra.accounts))
				for k, v := range deps.exchanges {
					merged[k] = v
				}
				for k, v := range extra.accounts {
					merged[k] = v
				}
				deps.exchanges = merged
			}
		}
	}
	if o.exchangeTimeout > 0 {
		deps.exchanges = withRequestTimeout(deps.exchanges, o.exchangeTimeout)
	}
	deps.fleet = newFleetStarter(s.client, es, o.books)
	reg, err := buildRegistry(deps)
	if err != nil {
		return nil, err
	}
	s.worker = newWorker(s.client, o.taskQueue, reg, s.authz.live)
	s.authz.wireWorker(s.worker, s.sms)
	s.events.wireAudit(reg, s.worker, s.metrics)
	registerDrill(s.worker, s.client, s.rehearsals, drillAuth{authorizer: s.authz.live, signEngine: s.authz.signer()})
	if o.register != nil {
		o.register(s.worker)
	}
	if err := s.worker.Start(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if err := ensureDrillController(ctx, s.client, o.taskQueue); err != nil {
		return nil, err
	}
	if o.books != nil {
		es.onFlood = floodPager(s.sms, es.logger)
		if err := s.events.startConsumer(ctx, es, s.client, reg, o.books); err != nil {
			return nil, err
		}
		s.metrics.Registry().MustRegister(observability.IngestCollector(s.events.consumer.Stats))
	}
	if o.uiPort >= 0 {
		if s.ui, err = webui.Start(webui.Options{TemporalAddress: s.temporal.HostPort(), Namespace: s.temporal.Namespace(),
			Addr: fmt.Sprintf("127.0.0.1:%d", o.uiPort)}); err != nil {
			return nil, fmt.Errorf("%w (try --ui-port, or -1 for no Web UI)", err)
		}
	}
	if o.httpPort >= 0 {
		hooks, err := s.sms.webhook(s.client)
		if err != nil {
			return nil, err
		}
		if s.http, err = startHTTP(fmt.Sprintf("127.0.0.1:%d", o.httpPort), httpRoutes{
			sms: hooks,
			metrics: observability.Handler(s.metrics, observability.AllReady(
				observability.NATSReady(s.events.nc), observability.TemporalReady(s.client))),
		}); err != nil {
			return nil, err
		}
	}
	if o.alertmanagerPort >= 0 {
		if s.bridge, err = startDevAlertmanager(o, s.events.js, s.keyring); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *devStack) endpoints() endpoints {
	e := endpoints{Temporal: s.temporal.HostPort(), Namespace: s.temporal.Namespace(), NATS: s.nats.URL(), TaskQueue: s.opts.taskQueue}
	if s.exchange != nil {
		e.ExchangeSim = s.exchange.sim.URL()
	}
	return e
}

// stop shuts down in reverse order: the worker first so no task is half
// handed over, then the servers.
func (s *devStack) stop() {
	if s.stopReload != nil {
		s.stopReload()
	}
	s.events.close()
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.temporal != nil {
		_ = s.temporal.Stop()
	}
	if s.nats != nil {
		s.nats.Stop()
	}
	s.http.close()
	s.bridge.close()
	if s.ui != nil {
		s.ui.Stop()
	}
	s.authz.stop()
	s.demoBot.close()
	s.rehearsals.close()
	s.sms.close()
	s.exchange.close()
}

func (s *devStack) exchangeURL() string {
	if s.exchange == nil {
		return "(none)"
	}
	return s.exchange.sim.URL()
}

func (s *devStack) demoBotURL() string {
	if s.demoBot == nil {
		return "(none)"
	}
	return s.demoBot.sim.URL()
}

func (s *devStack) uiURL() string {
	if s.ui == nil {
		return "(none)"
	}
	return s.ui.URL()
}

// withRequestTimeout returns a copy of accounts whose adapters time out
// each HTTP request after d.
func withRequestTimeout(accounts map[string]xchg.Config, d time.Duration) map[string]xchg.Config {
	out := make(map[string]xchg.Config, len(accounts))
	for name, c := range accounts {
		opts := make(map[string]any, len(c.Options)+1)
		for k, v := range c.Options {
			opts[k] = v
		}
		opts["timeout_ms"] = int(d / time.Millisecond)
		c.Options = opts
		out[name] = c
	}
	return out
}
