package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/observability"
)

func newWorkerCommand(g *globals) *cobra.Command {
	var (
		consumer    bool
		window      time.Duration
		maxAuto     int
		maxAutoExch int
		httpAddr    string
	)
	c := &cobra.Command{
		Use:   "worker",
		Short: "Run the worker (and the trigger consumer) against an external Temporal and NATS",
		Long: `worker connects to the Temporal frontend and NATS given by flags or environment
(RUNBOOK_TEMPORAL_ADDRESS, RUNBOOK_NAMESPACE, RUNBOOK_TASK_QUEUE, RUNBOOK_NATS_URL and
RUNBOOK_NATS_CREDS / _NKEY / _USER+_PASSWORD / _TOKEN) or the config file (temporal.tls,
temporal.api_key_env, nats.tls, nats.creds_file / nkey_file / user+password_env / token_env;
a setting it cannot apply stops it, naming the setting), registers the interpreter workflow and
every action, writes the audit trail, and runs the trigger consumer. Event signing keys come
from RUNBOOK_EVENT_KEYS or RUNBOOK_EVENT_KEYS_FILE. It refuses what ` + "`config check`" + ` calls
unsafe (plaintext Temporal or NATS to a non-loopback address, Vault over http, no operators)
unless allow_insecure (env RUNBOOK_ALLOW_INSECURE) names it. Who may act is the config's
operators and roles; the engine key (engine_key_file, required with the trigger consumer)
signs the incidents it starts. SIGHUP re-reads the roster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			defer setupTracing(ctx, "runbook-worker")()
			if err := alertmanagerConfigError(g.mustCfg().Alertmanager); err != nil {
				return err // before connecting anywhere: an unsafe bridge refuses to start
			}
			ep := g.resolved()
			if err := g.refuseUnsafe(ep); err != nil {
				return err
			}
			tr, err := g.temporalTransport()
			if err != nil {
				return err
			}
			natsConn, err := g.natsConn("runbook-worker")
			if err != nil {
				return err
			}
			kr, err := g.payloadKeyring()
			if err != nil {
				return err
			}
			metrics := observability.NewMetrics()
			c, err := dialWith(ctx, tr, ep.Temporal, ep.Namespace, g.operator(), kr, metrics.TemporalMetricsHandler())
			if err != nil {
				return err
			}
			defer c.Close()
			streams, err := streamSettingsFrom(g.mustCfg().Streams)
			if err != nil {
				return err
			}
			es := eventSettings{
				streams: streams,
				natsURL: ep.NATS,
				conn:    natsConn,

				window:           window,
				limits:           ingest.LimitConfig{Window: time.Hour, Global: maxAuto, PerExchange: maxAutoExch},
				namespace:        ep.Namespace,
				taskQueue:        ep.TaskQueue,
				payloadKeys:      kr,
				searchAttributes: g.searchAttributes(),
				lanes:            g.mustCfg().Events.Lanes(),
				logger:           slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
			}
			if es.auditKeys, err = g.auditKeys(); err != nil {
				return err
			}
			events, err := connectEvents(ctx, es)
			if err != nil {
				return err
			}
			defer events.close()
			metrics.Registry().MustRegister(observability.StreamCollector(events.capacity.Usage, ingest.PublishRefused))
			store, err := g.secretStore(ctx, events.js)
			if err != nil {
				return err
			}
			smsS, err := smsFromConfig(ctx, g.homeDir(), g.mustCfg().Oncall, store)
			if err != nil {
				return err
			}
			az, err := buildAuthz(authzSource{file: pick(g.config, os.Getenv("RUNBOOK_CONFIG")), cfg: g.mustCfg(), home: g.homeDir(),
				dirs: g.runbookDirs(), smsCodeKey: smsS.codeKey, needEngineKey: consumer, logger: es.logger})
			if err != nil {
				return err
			}
			az.auditRefusals(events.store)
			defer az.stop()
			defer az.watchReload(g.stdout)()
			es.sign = az.signer()
			// Every worker can run incident.start_many (a fleet incident's
			// per-bot starts), consumer or not: it needs the runbooks.
			books, err := g.triggerBooks()
			if err != nil {
				return err
			}
			reg, err := buildRegistry(actionDeps{console: g.stdout, allowedHosts: g.allowedHosts(), secrets: store,
				exchanges: g.exchangeAccounts(), bots: botsFromConfig(g.mustCfg()), nats: events.nc, sms: smsS,
				fleet: newFleetStarter(c, es, books), authz: az.live})
			if err != nil {
				return err
			}
			w := newWorker(c, ep.TaskQueue, reg, az.live)
			az.wireWorker(w, smsS)
			events.wireAudit(reg, w, metrics)
			// No simulator here: rehearse drills report that they need one.
			registerDrill(w, c, nil, drillAuth{authorizer: az.live, signEngine: az.signer()})
			if err := w.Start(); err != nil {
				return fmt.Errorf("worker: %w", err)
			}
			defer w.Stop()
			if err := ensureDrillController(ctx, c, ep.TaskQueue); err != nil {
				return err
			}
			if consumer {
				if es.keyring, err = g.loadKeyring(); err != nil {
					return err
				}
				es.onFlood = floodPager(smsS, es.logger)
				if err := events.startConsumer(ctx, es, c, reg, books); err != nil {
					return err
				}
				metrics.Registry().MustRegister(observability.IngestCollector(events.consumer.Stats))
			}
			if addr := pick(httpAddr, g.mustCfg().Metrics.Addr); addr != "" {
				hooks, err := smsS.webhook(c)
				if err != nil {
					return err
				}
				srv, err := startHTTP(addr, httpRoutes{sms: hooks, metrics: observability.Handler(metrics,
					observability.AllReady(observability.NATSReady(events.nc), observability.TemporalReady(c)))})
				if err != nil {
					return fmt.Errorf("http %s: %w", addr, err)
				}
				defer srv.close()
			}
			am, err := startWorkerAlertmanager(g, consumer, es.keyring, events.js)
			if err != nil {
				return err
			}
			defer am.close()
			fmt.Fprintf(g.stdout, "worker on %s namespace %s task queue %q; NATS %s; trigger consumer %v\n", ep.Temporal, ep.Namespace, ep.TaskQueue, ep.NATS, consumer)
			<-ctx.Done()
			return nil
		},
	}
	c.Flags().StringVar(&httpAddr, "http-addr", "", "serve the SMS webhook (/sms/inbound) and metrics here (config metrics.addr, env RUNBOOK_METRICS_ADDR)")
	c.Flags().BoolVar(&consumer, "consumer", true, "also run the trigger consumer (breach events → incidents)")
	c.Flags().DurationVar(&window, "event-window", 5*time.Minute, "accept signed events only within this time of their timestamp")
	c.Flags().IntVar(&maxAuto, "max-auto-incidents", 50, "blast-radius cap: automatic incidents per hour (0 = no cap)")
	c.Flags().IntVar(&maxAutoExch, "max-auto-incidents-per-exchange", 20, "blast-radius cap per exchange per hour (0 = no cap)")
	return c
}
