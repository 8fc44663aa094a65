package main

import (
	"fmt"
	"log/slog"
	"net/http"
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
RUNBOOK_NATS_CREDS / _NKEY / _USER+_PASSWORD / _TOKEN), registers the interpreter workflow and
every action, writes the audit trail, and runs the trigger consumer. Event signing keys come
from RUNBOOK_EVENT_KEYS or RUNBOOK_EVENT_KEYS_FILE.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			defer setupTracing(ctx, "runbook-worker")()
			ep := g.resolved()
			kr, err := g.payloadKeyring()
			if err != nil {
				return err
			}
			metrics := observability.NewMetrics()
			c, err := dial(ctx, ep.Temporal, ep.Namespace, g.operator(), kr, metrics.TemporalMetricsHandler())
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
				conn:    natsConnOptions(ep.NATS, "runbook-worker"),

				window:           window,
				limits:           ingest.LimitConfig{Window: time.Hour, Global: maxAuto, PerExchange: maxAutoExch},
				namespace:        ep.Namespace,
				taskQueue:        ep.TaskQueue,
				approvers:        g.approvers(),
				payloadKeys:      kr,
				searchAttributes: g.searchAttributes(),
				logger:           slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
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
			// Every worker can run incident.start_many (a fleet incident's
			// per-bot starts), consumer or not: it needs the runbooks.
			books, err := g.triggerBooks()
			if err != nil {
				return err
			}
			reg, err := buildRegistry(actionDeps{console: g.stdout, allowedHosts: g.allowedHosts(), secrets: store,
				exchanges: g.exchangeAccounts(), bots: botsFromConfig(g.mustCfg()), nats: events.nc, sms: smsS,
				fleet: newFleetStarter(c, es, books)})
			if err != nil {
				return err
			}
			w := newWorker(c, ep.TaskQueue, reg)
			events.wireAudit(reg, w, metrics)
			registerDrill(w, c, nil) // no simulator here: rehearse drills report that they need one
			if err := w.Start(); err != nil {
				return fmt.Errorf("worker: %w", err)
			}
			defer w.Stop()
			if consumer {
				if es.keyring, err = g.loadKeyring(); err != nil {
					return err
				}
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
				var am http.Handler
				if consumer {
					am = alertmanagerBridge(events.js, es.keyring)
				}
				srv, err := startHTTP(addr, httpRoutes{sms: hooks, alertmanager: am, metrics: observability.Handler(metrics,
					observability.AllReady(observability.NATSReady(events.nc), observability.TemporalReady(c)))})
				if err != nil {
					return fmt.Errorf("http %s: %w", addr, err)
				}
				defer srv.close()
			}
			fmt.Fprintf(g.stdout, "worker on %s namespace %s task queue %q; NATS %s; trigger consumer %v\n", ep.Temporal, ep.Namespace, ep.TaskQueue, ep.NATS, consumer)
			<-ctx.Done()
			return nil
		},
	}
	c.Flags().StringVar(&httpAddr, "http-addr", "", "serve webhooks (/sms/inbound, /alertmanager) and metrics here (config metrics.addr, env RUNBOOK_METRICS_ADDR)")
	c.Flags().BoolVar(&consumer, "consumer", true, "also run the trigger consumer (breach events → incidents)")
	c.Flags().DurationVar(&window, "event-window", 5*time.Minute, "accept signed events only within this time of their timestamp")
	c.Flags().IntVar(&maxAuto, "max-auto-incidents", 50, "blast-radius cap: automatic incidents per hour (0 = no cap)")
	c.Flags().IntVar(&maxAutoExch, "max-auto-incidents-per-exchange", 20, "blast-radius cap per exchange per hour (0 = no cap)")
	return c
}
