package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/events/ingest/temporalstart"
	"github.com/keyresponse/runbook/integrations/observability"
	"github.com/keyresponse/runbook/integrations/temporalcodec"
)

// eventSettings configure the NATS side of the engine.
type eventSettings struct {
	natsURL   string
	conn      ingest.ConnOptions
	keyring   breach.Keyring
	window    time.Duration
	unsigned  []string
	limits    ingest.LimitConfig
	namespace string
	taskQueue string
	// batchSize is the most events the trigger consumer handles as one
	// batch (0 = its default).
	batchSize int
	// starter is how events start incidents: "eager" (default: eager
	// workflow start, then a signal when the incident exists), "lazy"
	// (the same without eager dispatch) or "signal-with-start" (one
	// SignalWithStart call, never eager).
	starter string
	logger  *slog.Logger
	// lanes are the named publishers' lanes (config events.publishers;
	// dev: monitor); onFlood is told of a flooded lane (pages on-call).
	lanes   []ingest.Lane
	onFlood func(ingest.FloodAlert)
	// sign signs every start with the engine key (authz_wiring.go); nil:
	// starts go unsigned and the workflow refuses them.
	sign temporalstart.Signer
	// searchAttributes sets RunbookName, BotID, Exchange, Severity and
	// IncidentTrigger on new incidents (the namespace must define them).
	searchAttributes bool
	// payloadKeys, when set, encrypt the starter's payloads like the worker's.
	payloadKeys *temporalcodec.Keyring
	// auditKeys sign every audit record (required: no unauthenticated trail).
	auditKeys audit.Keys
	// streams bounds the breach streams and the consumer's prefetch.
	streams streamSettings
}

// natsSide is the engine's NATS half: streams, the audit store (whose hook
// every action reports to) and the trigger consumer.
type natsSide struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	store    *audit.Store
	consumer *ingest.Consumer
	cancel   context.CancelFunc
	done     chan error
	// capacity reads the breach streams' fill (runbook_stream_* metrics).
	capacity     *ingest.CapacityWatcher
	stopCapacity context.CancelFunc
}

// connectEvents connects to NATS and makes sure every stream exists.
func connectEvents(ctx context.Context, s eventSettings) (*natsSide, error) {
	opts := engineConnOptions(s.conn)
	opts.URL = s.natsURL
	if opts.Name == "" {
		opts.Name = "runbook"
	}
	if s.auditKeys.Signing == "" {
		return nil, errors.New("no audit keys: the audit trail cannot be authenticated (audit.keys_file / RUNBOOK_AUDIT_KEYS_FILE or audit.keys_env)")
	}
	nc, err := ingest.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach NATS at %s: %w", s.natsURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := ingest.EnsureStreamsWith(ctx, js, s.streams.storage); err != nil {
		nc.Close()
		return nil, fmt.Errorf("breach streams: %w", err)
	}
	if err := ingest.EnsureLaneStreams(ctx, js, s.lanes); err != nil {
		nc.Close()
		return nil, fmt.Errorf("publisher lanes: %w", err)
	}
	if _, err := audit.EnsureStream(ctx, js, audit.StreamOptions{}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	n := &natsSide{nc: nc, js: js, store: audit.NewStore(js, audit.WithKeys(s.auditKeys))}
	n.watchCapacity(s.streams, s.lanes)
	return n, nil
}

// wireAudit makes every action report to the audit trail and registers the
// activity the workflow writes incident-level facts through; incident
// metrics (outcome, time to contain) are derived from those facts.
func (n *natsSide) wireAudit(reg *activities.Registry, w worker.Worker, m *observability.Metrics) {
	reg.AddHook(audit.NewHook(n.store))
	ra := &audit.RecordActivity{Store: n.store}
	if m != nil {
		reg.AddHook(observability.NewStepHook(m))
		obs := &observability.IncidentObserver{Metrics: m, Load: func(ctx context.Context, id string) ([]audit.Record, error) {
			return audit.Load(ctx, n.js, id)
		}}
		ra.OnAppend = obs.Observe
	}
	w.RegisterActivityWithOptions(ra.RecordFact, activity.RegisterOptions{Name: audit.RecordActivityName})
	w.RegisterActivityWithOptions(ra.RecordFacts, activity.RegisterOptions{Name: audit.RecordBatchActivityName})
}

// startConsumer runs the trigger consumer until stop.
func (n *natsSide) startConsumer(ctx context.Context, s eventSettings, tc client.Client, cat *activities.Registry, books func() []ingest.LoadedRunbook) error {
	kv, err := ingest.EnsureReplayBucket(ctx, n.js, s.window)
	if err != nil {
		return fmt.Errorf("replay bucket: %w", err)
	}
	var lim ingest.Limiter
	if s.limits.Global > 0 || s.limits.PerExchange > 0 {
		if lim, err = ingest.NewStreamLimiter(ctx, n.js, s.limits); err != nil {
			return fmt.Errorf("blast-radius limiter: %w", err)
		}
	}
	if s.payloadKeys == nil {
		// The raw-service starter would otherwise write plaintext inputs
		// that every worker refuses.
		return errors.New("trigger consumer without a payload key: incidents it starts must be encrypted like every other payload")
	}
	var starter ingest.Starter
	switch s.starter {
	case "", "eager", "lazy":
		es := &temporalstart.EagerStarter{Client: tc, TaskQueue: s.taskQueue, Actions: cat, Sign: s.sign,
			Lazy: s.starter == "lazy", Context: traceContext}
		if s.searchAttributes {
			es.SearchAttributes = func(r ingest.StartRequest) temporal.SearchAttributes {
				return incidentAttributes(r.Runbook.Name, r.Inputs, r.Exchange, severityOf(r.Event), "event").Typed()
			}
		}
		starter = es
	case "signal-with-start":
		starter = &temporalstart.Starter{
			Service:       tc.WorkflowService(),
			Namespace:     s.namespace,
			TaskQueue:     s.taskQueue,
			Actions:       cat,
			Identity:      "runbook-trigger-consumer",
			Sign:          s.sign,
			DataConverter: dataConverter(s.payloadKeys),
			Header:        traceHeader,
			SearchAttributes: func(r ingest.StartRequest) (*commonpb.SearchAttributes, error) {
				if !s.searchAttributes {
					return nil, nil
				}
				return incidentAttributes(r.Runbook.Name, r.Inputs, r.Exchange, severityOf(r.Event), "event").Proto()
			},
		}
	default:
		return fmt.Errorf("unknown starter %q (eager, lazy, signal-with-start)", s.starter)
	}
	c, err := ingest.NewConsumer(ctx, n.js, ingest.Config{
		Verifier:     &breach.Verifier{Keys: s.keyring, Window: s.window, AllowUnsigned: s.unsigned, Replay: ingest.KVReplayGuard{KV: kv}},
		Runbooks:     books,
		Starter:      starter,
		Limiter:      lim,
		RequireMatch: true,
		BatchSize:    s.batchSize,
		FetchBytes:   s.streams.fetchBytes,
		Logger:       s.logger,
		Lanes:        s.lanes,
		Flood:        ingest.FloodConfig{OnFlood: s.onFlood},
	})
	if err != nil {
		return fmt.Errorf("trigger consumer: %w", err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	n.consumer, n.cancel, n.done = c, cancel, make(chan error, 1)
	go func() { n.done <- c.Run(cctx) }()
	return nil
}

func (n *natsSide) close() {
	if n == nil {
		return
	}
	if n.cancel != nil {
		n.cancel()
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
		}
	}
	if n.stopCapacity != nil {
		n.stopCapacity()
	}
	n.nc.Close()
}

// triggerBooks returns the loaded runbooks in the form the consumer matches.
func (g *globals) triggerBooks() (func() []ingest.LoadedRunbook, error) {
	all, err := g.allRunbooks()
	if err != nil {
		return nil, err
	}
	var books []ingest.LoadedRunbook
	for _, lr := range all {
		books = append(books, ingest.LoadedRunbook{Runbook: *lr.Runbook, Hash: lr.Hash})
	}
	return func() []ingest.LoadedRunbook { return books }, nil
}

// keyringFile is where `runbook dev` keeps its event-signing keys.
func keyringFile(home string) string { return filepath.Join(home, "event-keys") }

// ensureDevKeyring creates a signing key for the dev engine on first start
// (mode 0600), so `runbook event send` and the consumer share it.
func ensureDevKeyring(home string) (breach.Keyring, error) {
	path := keyringFile(home)
	if err := createSecretFileOnce(path, func() ([]byte, error) {
		return randomKeyFile("event signing keys for runbook dev: id=base64(secret)", "dev")
	}); err != nil {
		return nil, err
	}
	return breach.LoadKeyringFile(path)
}

// loadKeyring reads the signing keys: RUNBOOK_EVENT_KEYS, then the file in
// RUNBOOK_EVENT_KEYS_FILE, then the dev engine's file in the home dir.
func (g *globals) loadKeyring() (breach.Keyring, error) {
	if v := os.Getenv("RUNBOOK_EVENT_KEYS"); v != "" {
		return breach.ParseKeyring(v)
	}
	if f := g.mustCfg().Events.KeysFile; f != "" { // RUNBOOK_EVENT_KEYS_FILE overrides the file's
		return breach.LoadKeyringFile(f)
	}
	if _, err := os.Stat(keyringFile(g.homeDir())); err == nil {
		return breach.LoadKeyringFile(keyringFile(g.homeDir()))
	}
	return nil, fmt.Errorf("no event signing keys: set RUNBOOK_EVENT_KEYS or RUNBOOK_EVENT_KEYS_FILE (runbook dev creates %s)", keyringFile(g.homeDir()))
}

func dataConverter(kr *temporalcodec.Keyring) converter.DataConverter {
	return temporalcodec.DataConverter(kr)
}

// incidentAttributes are the search attributes of a new incident.
func incidentAttributes(runbook string, inputs map[string]any, exchange, severity, trigger string) observability.IncidentAttributes {
	bot, _ := inputs["bot"].(string)
	if severity == "" {
		severity, _ = inputs["severity"].(string)
	}
	return observability.IncidentAttributes{Runbook: runbook, Bot: bot, Exchange: exchange, Severity: severity, Trigger: trigger}
}

func severityOf(event map[string]any) string {
	if d, ok := event["data"].(map[string]any); ok {
		s, _ := d["severity"].(string)
		return s
	}
	return ""
}

// traceContext continues the trace the event carries (its CloudEvents
// traceparent extension, set by `runbook event send` or any instrumented
// publisher) in a span around the incident's start; the client's tracing
// interceptor puts it in the workflow's header.
func traceContext(ctx context.Context, r ingest.StartRequest) (context.Context, func()) {
	ev := breach.Event{Extensions: map[string]any{}}
	for _, k := range []string{observability.ExtTraceParent, observability.ExtTraceState} {
		if v, ok := r.Event[k]; ok {
			ev.Extensions[k] = v
		}
	}
	ctx, span := otel.Tracer("runbook/ingest").Start(observability.EventContext(ctx, &ev), "breach.start_incident",
		trace.WithAttributes(attribute.String("incident", r.IncidentID), attribute.String("runbook", r.Runbook.Name)))
	return ctx, func() { span.End() }
}

// traceHeader is traceContext for the raw SignalWithStart starter, which
// bypasses the client's interceptors and so sets the header itself.
func traceHeader(ctx context.Context, r ingest.StartRequest) (*commonpb.Header, error) {
	ctx, done := traceContext(ctx, r)
	defer done()
	return observability.TemporalHeader(ctx)
}
