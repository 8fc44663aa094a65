package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/integrations/observability"
)

func newEventCommand(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "event", Short: "Publish breach events (on-call testing, demos)"}
	c.AddCommand(newEventSendCommand(g))
	return c
}

func newEventSendCommand(g *globals) *cobra.Command {
	var (
		data      breach.Data
		kind      string
		keyID     string
		publisher string
		severity  string
		evidence  []string
		count     int
		source    string
	)
	c := &cobra.Command{
		Use:   "send",
		Short: "Publish a signed breach event on breach.<bot>.<kind> (breach.<exchange>.account_leaked for a whole account)",
		Example: `  runbook event send --bot bot-1 --kind key_leaked --exchange binance --key-id AKx1 --severity critical
  runbook event send --bot bot-1 --kind unknown_ip --evidence ip=203.0.113.7
  runbook event send --kind account_leaked --exchange binance --severity critical   # every bot on the account`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			defer setupTracing(cmd.Context(), "runbook-cli")()
			kr, err := g.loadKeyring()
			if err != nil {
				return err
			}
			if keyID == "" {
				if len(kr) != 1 {
					return fmt.Errorf("--key-id: the keyring holds %d keys, name the one to sign with", len(kr))
				}
				for id := range kr {
					keyID = id
				}
			}
			if data.Bot == "" && !breach.AccountWide(kind) {
				return fmt.Errorf("--bot is required (only --kind %s names no bot)", breach.KindAccountLeaked)
			}
			if data.Bot != "" && breach.AccountWide(kind) {
				return fmt.Errorf("--kind %s is about a whole exchange account: give --exchange, not --bot", kind)
			}
			data.Severity = breach.Severity(severity)
			data.Source = source
			data.Evidence = map[string]any{}
			for _, kv := range evidence {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("--evidence %q: want name=value", kv)
				}
				data.Evidence[k] = v
			}
			var nc *nats.Conn
			var js jetstream.JetStream
			if publisher != "" {
				nc, js, err = g.connectPublisher(publisher)
			} else {
				nc, js, err = g.connectNATS(cmd.Context(), natsauth.RolePublisher)
			}
			if err != nil {
				return err
			}
			defer nc.Close()
			var ids []string
			subject := ""
			for i := 0; i < count; i++ {
				ev := breach.New("runbook-cli/"+g.operator(), kind, data, time.Now())
				// The event carries the trace context (CloudEvents traceparent
				// extension, covered by the signature) into the incident.
				ctx, span := otel.Tracer("runbook/cli").Start(cmd.Context(), "breach.publish")
				observability.InjectEvent(ctx, &ev)
				span.End()
				ev, err := breach.Sign(ev, kr, keyID)
				if err != nil {
					return err
				}
				if publisher != "" {
					_, err = ingest.PublishAs(cmd.Context(), js, ev, publisher)
				} else {
					_, err = ingest.Publish(cmd.Context(), js, ev)
				}
				if err != nil {
					return err
				}
				ids = append(ids, ev.ID)
				subject = ev.NATSSubject()
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return json.NewEncoder(g.stdout).Encode(map[string]any{"subject": subject, "event_ids": ids})
			}
			fmt.Fprintf(g.stdout, "published %d event(s) on %s (signed with key %q)\n", len(ids), subject, keyID)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&data.Bot, "bot", "", "bot id (required, except for --kind account_leaked)")
	f.StringVar(&kind, "kind", "key_leaked", "breach kind: key_leaked, unknown_ip, withdrawal_attempt, ...")
	f.StringVar(&data.Exchange, "exchange", "", "exchange of the key (binance, okx, bybit)")
	f.StringVar(&data.KeyID, "key-id", "", "the leaked API key's id (never its secret)")
	f.StringVar(&keyID, "sign-key", "", "id of the signing key in the keyring (default: the only one)")
	f.StringVar(&severity, "severity", "high", "low, medium, high or critical")
	f.StringArrayVar(&evidence, "evidence", nil, "evidence as name=value (repeatable)")
	f.IntVar(&count, "count", 1, "publish this many events (each with its own id)")
	f.StringVar(&publisher, "publisher", "", "publish as this named publisher, into its own lane (dev: its seed publisher-<name>.nk); default the shared publisher")
	f.StringVar(&source, "source", "manual", "what detected the breach")
	return c
}
