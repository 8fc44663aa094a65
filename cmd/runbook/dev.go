package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/ingest"
)

func newDevCommand(g *globals) *cobra.Command {
	var temporalPort, natsPort, simPort, botPort, httpPort, amPort, uiPort, maxAuto, maxAutoPerExchange int
	c := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole engine in one process: embedded Temporal (SQLite) and NATS JetStream, the worker",
		Long: `dev starts, in this process and on 127.0.0.1: a Temporal server whose state is a SQLite file,
a NATS server with JetStream on a file store, and the worker. State lives in the home
directory (--home, RUNBOOK_HOME, default ~/.runbook), so incidents survive a restart.
Other verbs find this engine with no flags through <home>/dev.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			defer setupTracing(cmd.Context(), "runbook-dev")()
			home := g.homeDir()
			if err := os.MkdirAll(home, 0o700); err != nil {
				return err
			}
			ep := g.resolved()
			books, err := g.triggerBooks()
			if err != nil {
				return err
			}
			// The config's streams and audit sections apply to dev as to a
			// worker (a setting that is present is enforced).
			streams, err := streamSettingsFrom(g.mustCfg().Streams)
			if err != nil {
				return err
			}
			var auditKeys audit.Keys
			if a := g.mustCfg().Audit; a.KeysFile != "" || a.KeysEnv != "" {
				if auditKeys, err = g.auditKeys(); err != nil {
					return err
				}
			}
			stack, err := startDevStack(cmd.Context(), devOptions{
				home:            home,
				temporalPort:    temporalPort,
				natsPort:        natsPort,
				taskQueue:       ep.TaskQueue,
				console:         g.stdout,
				allowedHosts:    g.allowedHosts(),
				identity:        "runbook-dev",
				books:           books,
				exchangeSimPort: simPort,
				cfg:             g.mustCfg(),
				cfgFile:         pick(g.config, os.Getenv("RUNBOOK_CONFIG")),
				runbookDirs:     g.runbookDirs(),
				demoBotPort:     botPort,
				bots:            botsFromConfig(g.mustCfg()),
				exchanges:       g.exchangeAccounts(),
				oncall:          g.mustCfg().Oncall,
				httpPort:        httpPort,
				uiPort:          uiPort,
				limits:          ingest.LimitConfig{Window: time.Hour, Global: maxAuto, PerExchange: maxAutoPerExchange},

				// The bridge: its own loopback port, its token in home.
				alertmanagerPort: amPort,
				alertmanager:     g.mustCfg().Alertmanager,
				streams:          streams,
				auditKeys:        auditKeys,
			})
			if err != nil {
				return err
			}
			defer stack.stop()
			fmt.Fprintln(g.stdout, stack.authz.devOp.summary())
			e := stack.endpoints()
			e.PID = os.Getpid()
			devFile := filepath.Join(home, "dev.json")
			b, _ := json.MarshalIndent(e, "", "  ")
			if err := os.WriteFile(devFile, b, 0o600); err != nil {
				return fmt.Errorf("write %s: %w", devFile, err)
			}
			defer os.Remove(devFile)
			fmt.Fprintf(g.stdout, `runbook dev is up (state in %s)
  temporal   %s  namespace %s  (SQLite: %s)
  nats       %s  (JetStream store: %s)
  nats users %s/{engine,admin,operator,publisher}.nk  (nkey seeds; every verb connects as the role it needs)
  lanes      %s  (a publisher's own account and stream; seed publisher-<name>.nk)
  worker     task queue %q
  exchange   %s  simulator: binance, okx, bybit dialects; demo bot sub-accounts "bot-1"
  demo bot   %s  freqtrade API; trades on binance from 127.0.0.10
  sms sink   %s  Twilio Messages API; every text to on-call is printed here
  sms hook   %s/sms/inbound (Twilio-signed)
  alertmgr   %s  (Authorization: Bearer <token in %s>)
  metrics    %s/metrics  (health: /healthz, /readyz)
  web ui     %s  (Temporal Web UI)
  events     breach.<bot>.<kind> on stream BREACH (signed with %s), dead letters on BREACH_DLQ, audit on AUDIT
try, from another terminal:
  runbook list
  runbook exec demo-approval --input bot=bot-1 --wait
  runbook approve demo-approval:bot-1
Ctrl-C stops; state is kept for the next start.
`, home, e.Temporal, e.Namespace, filepath.Join(home, "temporal.db"), e.NATS, filepath.Join(home, "nats"), devNATSUsersDir(home), laneSummary(stack.lanes), e.TaskQueue, stack.exchangeURL(), stack.demoBotURL(), stack.sms.sim.URL(), stack.http.URL(), stack.bridge.URL(), stack.bridge.TokenAt(), stack.http.URL(), stack.uiURL(), keyringFile(home))
			<-cmd.Context().Done()
			fmt.Fprintln(g.stdout, "runbook dev: stopping")
			return nil
		},
	}
	c.Flags().IntVar(&temporalPort, "temporal-port", 7233, "Temporal frontend port (0 = any free port)")
	c.Flags().IntVar(&maxAuto, "max-auto-incidents", 50, "blast-radius cap: automatic incidents per hour before irreversible steps wait for approval (0 = no cap)")
	c.Flags().IntVar(&maxAutoPerExchange, "max-auto-incidents-per-exchange", 20, "blast-radius cap per exchange per hour (0 = no cap)")
	c.Flags().IntVar(&simPort, "exchangesim-port", 7070, "exchange simulator port (0 = any free port, -1 = no simulator)")
	c.Flags().IntVar(&botPort, "demo-bot-port", 8089, "demo freqtrade bot API port (0 = any free port, -1 = no demo bot)")
	c.Flags().IntVar(&httpPort, "http-port", 7080, "inbound SMS webhook (/sms/inbound) and metrics (0 = any free port, -1 = none)")
	c.Flags().IntVar(&amPort, "alertmanager-port", 7081, "Alertmanager bridge (/alertmanager, bearer token in <home>/alertmanager-token) on 127.0.0.1 unless alertmanager.addr is set (0 = any free port, -1 = none)")
	c.Flags().IntVar(&uiPort, "ui-port", 8233, "Temporal Web UI port (0 = any free port, -1 = none)")
	c.Flags().IntVar(&natsPort, "nats-port", 4222, "NATS client port (0 = any free port)")
	return c
}
