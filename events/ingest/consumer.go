package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// Config of the trigger consumer.
type Config struct {
	// Durable consumer name on the BREACH stream and on every lane
	// stream. Default DefaultDurable.
	Durable string
	// Lanes are the publisher lanes to consume besides the shared BREACH
	// stream (lanes.go); EnsureLaneStreams must have created their streams.
	// An entry with Publisher "" sets the shared lane's Rate and Burst.
	Lanes []Lane
	// Verifier checks signatures, the time window and replays. Required;
	// give it a KVReplayGuard so replays are caught across restarts. It is
	// called from several goroutines at once.
	Verifier *breach.Verifier
	// Runbooks returns the loaded runbooks; called once per batch so a
	// reload takes effect with the next batch.
	Runbooks func() []LoadedRunbook
	// Starter is called concurrently for different incidents (never for
	// the same incident twice at once).
	Starter Starter
	// Limiter is the blast-radius limit; nil means no limit. Calls for
	// incident ids the Starter has not answered for yet in this process
	// go through it one at a time in stream order (check, start, record),
	// so the cap holds within one consumer process. Ids it already
	// started or signalled skip it: their events signal a running
	// incident.
	Limiter Limiter
	// RequireMatch dead-letters events no runbook matches (reason no_match);
	// otherwise they are acked and counted as Unmatched.
	RequireMatch bool
	// MaxDeliver is how many times a message is tried before it is
	// dead-lettered (start_failed / retries_exhausted). Default 20.
	MaxDeliver int
	// Backoff is the redelivery delay after the n-th failed attempt (the
	// last entry repeats). Default 1s 2s 5s 10s 30s 60s.
	Backoff []time.Duration
	// AckWait is how long the server waits for an ack before redelivering a
	// message whose handler vanished. Default 30s. The Starter call gets
	// two thirds of it.
	AckWait time.Duration
	// BatchSize is the most messages handled as one batch. A batch is
	// whatever is already fetched, taken without waiting: a lone event is
	// handled at once; only a storm fills batches. Bigger batches mean
	// fewer Starter calls per event (a storm over 100 bots: 0.39 calls per
	// event at 256, 0.1 at 1024), which hides Temporal's latency. Default
	// 1024.
	BatchSize int
	// FetchBytes bounds each pull request the consumer sends the server
	// in bytes, alongside the message count (pullMaxMessages): without it a
	// prefetch of 2 x BatchSize messages of up to MaxMessageBytes each could
	// buffer a gigabyte in the worker. It must be at least MaxMessageBytes
	// (a smaller limit could never fetch a maximum-size message and the
	// consumer would stall), so NewConsumer refuses less. Typical events are
	// about 1 KB, so the default never limits an ordinary storm. Default
	// DefaultFetchBytes (8 MiB).
	FetchBytes int
	// VerifyConcurrency bounds decode+verify goroutines per batch. The
	// replay claim is a KV round trip; concurrent claims pipeline over one
	// connection. Default 64.
	VerifyConcurrency int
	// StartConcurrency bounds concurrent Starter calls (one per incident)
	// per batch. Default 16.
	StartConcurrency int
	// KnownIDs bounds the set of incident ids this consumer started,
	// signalled, saw closed or handed to a fleet (used for fleet routing
	// and the limiter shortcut); the oldest are forgotten first. Default
	// 100000.
	KnownIDs int
	Logger   *slog.Logger
	// ClosedTTL is how long the consumer remembers that an incident id
	// belongs to an incident that already ended, and acks later events
	// for it as Closed without asking Temporal again. A storm of
	// duplicates after the incident closed would otherwise cost one
	// Temporal call (and a mutable-state load from the database) each:
	// measured, that call is what caps the storm's ingest rate. The cost:
	// for this long after on-call restarts such an incident by hand
	// (runbook exec), events for it are not signalled into it. Default
	// 5s; negative turns the cache off.
	ClosedTTL time.Duration
	// DLQWholePerSecond is how many dead letters per publisher and reason
	// are written whole each second; past it the batch's refusals of that
	// publisher and reason go into one summary dead letter (dlqbatch.go).
	// Default DefaultDLQWholePerSecond; negative: always whole.
	DLQWholePerSecond int
	// Flood tunes flood detection and says whom to tell (flood.go).
	Flood FloodConfig
	// Now is the clock for dead-letter timestamps. Default time.Now.
	Now func() time.Time

	// beforeBatch, if set, runs before each batch is taken from the
	// buffer. Tests use it to decide exactly what a batch holds.
	beforeBatch func()
}

// DefaultFetchBytes is Config.FetchBytes's default.
const DefaultFetchBytes = 8 << 20

var defaultBackoff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute}

// Consumer is the trigger consumer. Create with NewConsumer, then Run.
type Consumer struct {
	cfg   Config
	js    jetstream.JetStream
	lanes []laneConsumer // the shared lane first
	stats statsBox
	log   *slog.Logger

	streamMu sync.Mutex
	streams  map[string]jetstream.Stream // by name, for erase

	closed *ttlSet // incident ids Temporal reported closed
	known  *idSet  // incident ids started, signalled, closed or handed to a fleet
	// answered holds incident ids the Starter answered for (started,
	// signalled or closed): only those skip the blast-radius limiter. An
	// id merely handed to a fleet may still be started per bot.
	answered *idSet
	col      atomic.Pointer[collector] // of the current Run, for buffered
	// dlqBudget counts whole dead letters per publisher and reason.
	dlqBudget *dlqBudget
	flood     *floodMeter
	// fleetMissing remembers fleet runbooks reported missing (log once).
	fleetMissing sync.Map
}

// NewConsumer creates (or updates) the durable pull consumer on BREACH.
// Call EnsureStreams first.
func NewConsumer(ctx context.Context, js jetstream.JetStream, cfg Config) (*Consumer, error) {
	if cfg.Verifier == nil || cfg.Starter == nil || cfg.Runbooks == nil {
		return nil, errors.New("ingest: Config needs Verifier, Starter and Runbooks")
	}
	if cfg.Durable == "" {
		cfg.Durable = DefaultDurable
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 20
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = defaultBackoff
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1024
	}
	if cfg.FetchBytes == 0 {
		cfg.FetchBytes = DefaultFetchBytes
	}
	if cfg.FetchBytes < MaxMessageBytes {
		return nil, fmt.Errorf("ingest: FetchBytes %d is below the stream's message cap %d: the consumer could never fetch a maximum-size message", cfg.FetchBytes, MaxMessageBytes)
	}
	if cfg.VerifyConcurrency <= 0 {
		cfg.VerifyConcurrency = 64
	}
	if cfg.StartConcurrency <= 0 {
		cfg.StartConcurrency = 16
	}
	if cfg.KnownIDs <= 0 {
		cfg.KnownIDs = 100000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DLQWholePerSecond == 0 {
		cfg.DLQWholePerSecond = DefaultDLQWholePerSecond
	}
	if cfg.ClosedTTL == 0 {
		cfg.ClosedTTL = 5 * time.Second
	}
	lanes, err := laneList(cfg.Lanes)
	if err != nil {
		return nil, err
	}
	var lcs []laneConsumer
	for _, l := range lanes {
		cons, err := js.CreateOrUpdateConsumer(ctx, LaneStream(l.Publisher), jetstream.ConsumerConfig{
			Durable:       cfg.Durable,
			Description:   "runbook trigger consumer: decode, verify, match, start or signal",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			FilterSubject: LaneSubjects(l.Publisher),
			// Unlimited at the server: the consumer dead-letters a message
			// itself after MaxDeliver attempts, so JetStream never gives up on
			// a message silently.
			MaxDeliver:    -1,
			MaxAckPending: maxAckPending(cfg.BatchSize),
		})
		if err != nil {
			return nil, fmt.Errorf("consumer %s on %s: %w", cfg.Durable, LaneStream(l.Publisher), err)
		}
		lcs = append(lcs, laneConsumer{lane: l, cons: cons})
	}
	return &Consumer{
		cfg: cfg, js: js, lanes: lcs,
		// Built once: the production handler redacts in WithAttrs, which
		// is far too slow to run per message.
		log:       cfg.Logger.With("component", "trigger-consumer"),
		closed:    newTTLSet(cfg.ClosedTTL, 10000, cfg.Now),
		known:     newIDSet(cfg.KnownIDs),
		answered:  newIDSet(cfg.KnownIDs),
		dlqBudget: &dlqBudget{perSecond: cfg.DLQWholePerSecond},
		streams:   map[string]jetstream.Stream{},
		flood:     newFloodMeter(cfg.Flood),
	}, nil
}

// Stats returns a snapshot of the counters.
func (c *Consumer) Stats() Stats { return c.stats.snapshot() }

// Run consumes until ctx is cancelled, then stops fetching, finishes the
// messages already fetched and returns nil. Bad input never ends Run; only a
// terminal consume error does (the durable consumer was deleted, or the
// connection closed for good), returned so the caller can restart.
//
// Messages are handled in batches through a two-stage pipeline; Starter
// calls run batch after batch, so events of one bot are handled in stream
// order.
func (c *Consumer) Run(ctx context.Context) error {
	// Work outlives ctx so in-flight messages finish and get acked or
	// naked; each Starter call still has its own timeout.
	work := context.WithoutCancel(ctx)
	lanes := make([]Lane, len(c.lanes))
	for i, l := range c.lanes {
		lanes[i] = l.lane
	}
	col := newCollector(c.cfg.BatchSize, lanes)
	c.col.Store(col)
	// The two pipeline stages (see batch.go); unbuffered between them.
	prepared := make(chan *batch)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(prepared)
		for {
			if c.cfg.beforeBatch != nil {
				c.cfg.beforeBatch()
			}
			msgs := col.next()
			if msgs == nil {
				return
			}
			prepared <- c.prepare(work, msgs)
		}
	}()
	go func() {
		defer wg.Done()
		for b := range prepared {
			c.dispatch(work, b)
		}
	}()
	// Terminal consume errors (consumer deleted, connection closed) end
	// Run with an error so the supervisor can recreate and restart; a
	// server restart is not terminal: the client reconnects and resumes.
	fatal := make(chan error, 1)
	var ccs []jetstream.ConsumeContext
	stopAll := func() {
		for _, cc := range ccs {
			cc.Drain()
		}
		for _, cc := range ccs {
			<-cc.Closed()
		}
	}
	for i, lc := range c.lanes {
		cc, err := lc.cons.Consume(col.add(i),
			jetstream.PullMaxMessagesWithBytesLimit(pullMaxMessages(c.cfg.BatchSize), c.cfg.FetchBytes),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConnectionClosed) || errors.Is(err, jetstream.ErrBadRequest) {
					select {
					case fatal <- fmt.Errorf("lane %s: %w", LaneStream(lc.lane.Publisher), err):
					default:
					}
					return
				}
				c.log.Warn("consume", "stream", LaneStream(lc.lane.Publisher), "err", err)
			}))
		if err != nil {
			stopAll()
			col.close()
			wg.Wait()
			return fmt.Errorf("consume %s: %w", LaneStream(lc.lane.Publisher), err)
		}
		ccs = append(ccs, cc)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-fatal:
		runErr = fmt.Errorf("consume: %w", err)
		c.log.Error("trigger consumer stopped", "err", err)
	}
	stopAll()
	col.close()
	wg.Wait()
	return runErr
}

// buffered is how many fetched messages wait for the next batch.
func (c *Consumer) buffered() int {
	if col := c.col.Load(); col != nil {
		return col.buffered()
	}
	return 0
}

// laneConsumer is the durable consumer of one lane's stream.
type laneConsumer struct {
	lane Lane
	cons jetstream.Consumer
}

// laneList is the shared lane first, then each publisher lane once.
func laneList(cfg []Lane) ([]Lane, error) {
	out := []Lane{{}}
	seen := map[string]bool{}
	for _, l := range cfg {
		if l.Publisher == "" {
			out[0] = l
			continue
		}
		if err := ValidPublisherName(l.Publisher); err != nil {
			return nil, fmt.Errorf("ingest: Config.Lanes: %w", err)
		}
		if seen[l.Publisher] {
			return nil, fmt.Errorf("ingest: Config.Lanes: publisher %q twice", l.Publisher)
		}
		seen[l.Publisher] = true
		out = append(out, l)
	}
	return out, nil
}

// backoff is the delay after the n-th delivery failed.
func (c *Consumer) backoff(delivered uint64) time.Duration {
	i := int(delivered) - 1
	if i >= len(c.cfg.Backoff) {
		i = len(c.cfg.Backoff) - 1
	}
	if i < 0 {
		i = 0
	}
	return c.cfg.Backoff[i]
}
