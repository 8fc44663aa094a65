package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/workflows"
)

// Config of the trigger consumer.
type Config struct {
	// Durable consumer name on the BREACH stream. Default DefaultDurable.
	Durable string
	// Verifier checks signatures, the time window and replays. Required;
	// give it a KVReplayGuard so replays are caught across restarts.
	Verifier *breach.Verifier
	// Runbooks returns the loaded runbooks; called per event so a reload
	// takes effect at once.
	Runbooks func() []LoadedRunbook
	Starter  Starter
	// Limiter is the blast-radius limit; nil means no limit.
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
	// Workers process messages in parallel; events of one bot always go to
	// the same worker, in stream order. Default 1. With more than one
	// worker the blast-radius cap may be exceeded by up to Workers-1
	// incidents (check and record are not one atomic step).
	Workers int
	Logger  *slog.Logger
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
	// Now is the clock for dead-letter timestamps. Default time.Now.
	Now func() time.Time
}

var defaultBackoff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute}

// Consumer is the trigger consumer. Create with NewConsumer, then Run.
type Consumer struct {
	cfg   Config
	js    jetstream.JetStream
	cons  jetstream.Consumer
	stats statsBox
	log   *slog.Logger

	streamMu sync.Mutex
	stream   jetstream.Stream

	// closed maps incident ids Temporal reported closed to when it did.
	closedMu sync.Mutex
	closed   map[string]time.Time
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
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClosedTTL == 0 {
		cfg.ClosedTTL = 5 * time.Second
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, StreamBreach, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "runbook trigger consumer: decode, verify, match, start or signal",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: SubjectsBreach,
		// Unlimited at the server: the consumer dead-letters a message
		// itself after MaxDeliver attempts, so JetStream never gives up on
		// a message silently.
		MaxDeliver:    -1,
		MaxAckPending: 1000,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", cfg.Durable, err)
	}
	return &Consumer{cfg: cfg, js: js, cons: cons, log: cfg.Logger.With("component", "trigger-consumer")}, nil
}

// Stats returns a snapshot of the counters.
func (c *Consumer) Stats() Stats { return c.stats.snapshot() }

// Run consumes until ctx is cancelled, then stops fetching, finishes the
// messages already fetched and returns nil. Bad input never ends Run; only a
// terminal consume error does (the durable consumer was deleted, or the
// connection closed for good), returned so the caller can restart.
func (c *Consumer) Run(ctx context.Context) error {
	// Work outlives ctx so in-flight messages finish and get acked or
	// naked; each Starter call still has its own timeout.
	work := context.WithoutCancel(ctx)
	n := c.cfg.Workers
	queues := make([]chan jetstream.Msg, n)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan jetstream.Msg, 2)
		wg.Add(1)
		go func(q <-chan jetstream.Msg) {
			defer wg.Done()
			for m := range q {
				c.handleSafely(work, m)
			}
		}(queues[i])
	}
	// Terminal consume errors (consumer deleted, connection closed) end
	// Run with an error so the supervisor can recreate and restart; a
	// server restart is not terminal: the client reconnects and resumes.
	fatal := make(chan error, 1)
	// Small client-side buffers: a message waiting in a buffer while the
	// Starter is slow still runs down its AckWait, and an expired one is
	// delivered twice (harmless, but wasted work).
	cc, err := c.cons.Consume(func(m jetstream.Msg) {
		queues[partition(m.Subject(), n)] <- m
	},
		jetstream.PullMaxMessages(max(8*n, 16)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConnectionClosed) || errors.Is(err, jetstream.ErrBadRequest) {
				select {
				case fatal <- err:
				default:
				}
				return
			}
			c.log.Warn("consume", "err", err)
		}))
	if err != nil {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
		return fmt.Errorf("consume: %w", err)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-fatal:
		runErr = fmt.Errorf("consume: %w", err)
		c.log.Error("trigger consumer stopped", "err", err)
	}
	cc.Drain()
	<-cc.Closed()
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return runErr
}

// partition keeps one bot's events on one worker.
func partition(subject string, n int) int {
	if n <= 1 {
		return 0
	}
	key := subject
	if parts := strings.SplitN(subject, ".", 3); len(parts) >= 2 {
		key = parts[1]
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// handleSafely turns a panic anywhere in the pipeline (a bug, e.g. in a
// Starter) into a delayed redelivery, so one message cannot crash the
// process; after MaxDeliver attempts it is dead-lettered.
func (c *Consumer) handleSafely(ctx context.Context, msg jetstream.Msg) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("panic while handling a message", "subject", msg.Subject(), "panic", fmt.Sprint(p))
			c.stats.add(func(s *Stats) { s.Retried++ })
			delay := c.cfg.Backoff[0]
			if meta, err := msg.Metadata(); err == nil {
				delay = c.backoff(meta.NumDelivered)
			}
			_ = msg.NakWithDelay(delay)
		}
	}()
	c.handle(ctx, msg)
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

// handle processes one message to exactly one end: ack after start/signal,
// ack as unmatched, dead letter + ack, or nak with delay.
func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	c.stats.add(func(s *Stats) { s.Received++ })
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to ack, nothing to redeliver.
		c.log.Error("message without JetStream metadata", "subject", msg.Subject(), "err", err)
		return
	}
	log := c.log.With("subject", msg.Subject(), "seq", meta.Sequence.Stream, "delivery", meta.NumDelivered)
	maxD := uint64(c.cfg.MaxDeliver)
	if meta.NumDelivered > maxD {
		// Earlier deliveries never finished (crash or hang): poison.
		c.deadLetter(ctx, msg, meta, log, ReasonRetriesExhausted, fmt.Sprintf("delivered %d times without finishing", meta.NumDelivered))
		return
	}
	last := meta.NumDelivered >= maxD

	ev, err := breach.Decode(msg.Subject(), msg.Data())
	if err == nil {
		err = c.cfg.Verifier.Verify(ctx, ev, breach.Delivery{Subject: msg.Subject(), ArrivedAt: meta.Timestamp, StreamSeq: meta.Sequence.Stream})
	}
	if err != nil {
		if r := breach.ReasonOf(err); r != "" {
			c.deadLetter(ctx, msg, meta, log, r, err.Error())
			return
		}
		c.retry(ctx, msg, meta, log, last, ReasonRetriesExhausted, err)
		return
	}
	log = log.With("event", ev.ID, "bot", ev.Data.Bot)

	evMap, err := ev.Map()
	if err != nil {
		c.deadLetter(ctx, msg, meta, log, breach.ReasonSchema, err.Error())
		return
	}
	matches, err := MatchEvent(c.cfg.Runbooks(), ev, evMap, msg.Subject())
	if err != nil {
		c.deadLetter(ctx, msg, meta, log, ReasonTrigger, err.Error())
		return
	}
	if len(matches) == 0 {
		if c.cfg.RequireMatch {
			c.deadLetter(ctx, msg, meta, log, ReasonNoMatch, "no runbook trigger matches "+msg.Subject())
			return
		}
		log.Info("no runbook matches; acked")
		c.stats.add(func(s *Stats) { s.Unmatched++ })
		c.ack(ctx, msg, log)
		return
	}
	for _, m := range matches {
		if err := c.start(ctx, ev, evMap, m, log); err != nil {
			c.retry(ctx, msg, meta, log.With("incident", m.IncidentID), last, ReasonStartFailed, err)
			return
		}
	}
	c.ack(ctx, msg, log)
}

// start applies the blast-radius limit and calls the Starter for one match.
func (c *Consumer) start(ctx context.Context, ev breach.Event, evMap map[string]any, m Match, log *slog.Logger) error {
	req := StartRequest{
		IncidentID:  m.IncidentID,
		Runbook:     m.Runbook.Runbook,
		RunbookHash: m.Runbook.Hash,
		Inputs:      m.Inputs,
		Event:       evMap,
		Evidence: workflows.Evidence{
			EventID: ev.ID,
			Subject: ev.NATSSubject(),
			Data:    dataMap(evMap),
		},
		StartedBy: ev.Source,
		Exchange:  ev.Data.Exchange,
	}
	if c.cfg.Limiter != nil {
		hold, reason, err := c.cfg.Limiter.Check(ctx, ev.Data.Exchange)
		if err != nil {
			return fmt.Errorf("blast-radius limiter: %w", err)
		}
		req.HoldIrreversible, req.HoldIrreversibleReason = hold, reason
	}
	if c.recentlyClosed(m.IncidentID) {
		c.stats.add(func(s *Stats) { s.Closed++ })
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.AckWait*2/3)
	defer cancel()
	res, err := c.cfg.Starter.StartOrSignal(sctx, req)
	if err != nil {
		return err
	}
	if res.Closed {
		c.rememberClosed(m.IncidentID)
		c.stats.add(func(s *Stats) { s.Closed++ })
		log.Info("event for an incident that already ended: nothing started", "incident", m.IncidentID, "runbook", m.Runbook.Runbook.Name)
		return nil
	}
	if res.Started {
		if c.cfg.Limiter != nil {
			if err := c.cfg.Limiter.Record(ctx, m.IncidentID, ev.Data.Exchange); err != nil {
				// The incident runs; only the count is off. Say so.
				log.Error("blast-radius limiter did not record a start", "incident", m.IncidentID, "err", err)
			}
		}
		c.stats.add(func(s *Stats) {
			s.Started++
			if req.HoldIrreversible {
				s.Held++
			}
		})
		log.Info("incident started", "incident", m.IncidentID, "runbook", m.Runbook.Runbook.Name, "hold_irreversible", req.HoldIrreversible)
	} else {
		c.stats.add(func(s *Stats) { s.Signalled++ })
		log.Debug("evidence signalled", "incident", m.IncidentID)
	}
	return nil
}

// recentlyClosed tells whether Temporal said within ClosedTTL that the
// incident already ended.
func (c *Consumer) recentlyClosed(id string) bool {
	if c.cfg.ClosedTTL < 0 {
		return false
	}
	c.closedMu.Lock()
	defer c.closedMu.Unlock()
	at, ok := c.closed[id]
	if ok && c.cfg.Now().Sub(at) >= c.cfg.ClosedTTL {
		delete(c.closed, id)
		return false
	}
	return ok
}

func (c *Consumer) rememberClosed(id string) {
	if c.cfg.ClosedTTL < 0 {
		return
	}
	now := c.cfg.Now()
	c.closedMu.Lock()
	defer c.closedMu.Unlock()
	if c.closed == nil {
		c.closed = map[string]time.Time{}
	}
	// Bound the map: drop what expired once it grows.
	if len(c.closed) >= 10000 {
		for k, at := range c.closed {
			if now.Sub(at) >= c.cfg.ClosedTTL {
				delete(c.closed, k)
			}
		}
	}
	c.closed[id] = now
}

func dataMap(evMap map[string]any) map[string]any {
	if d, ok := evMap["data"].(map[string]any); ok {
		return d
	}
	return nil
}

// retry naks with the backoff delay, or dead-letters on the last attempt.
func (c *Consumer) retry(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, log *slog.Logger, last bool, reason breach.Reason, err error) {
	if last {
		c.deadLetter(ctx, msg, meta, log, reason, err.Error())
		return
	}
	delay := c.backoff(meta.NumDelivered)
	log.Warn("will retry", "err", err, "delay", delay)
	c.stats.add(func(s *Stats) { s.Retried++ })
	if nerr := msg.NakWithDelay(delay); nerr != nil {
		// The server redelivers after AckWait anyway.
		log.Error("nak failed", "err", nerr)
	}
}

// deadLetter publishes to the DLQ stream, then acks. If the DLQ publish
// fails the message is naked instead: it is never acked unrecorded.
func (c *Consumer) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, log *slog.Logger, reason breach.Reason, errText string) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := deadLetter(pctx, c.js, msg, meta, reason, errText, c.cfg.Now()); err != nil {
		log.Error("dead letter publish failed; will retry", "reason", reason, "err", err)
		c.stats.add(func(s *Stats) { s.Retried++ })
		_ = msg.NakWithDelay(c.cfg.Backoff[0])
		return
	}
	log.Warn("dead-lettered", "reason", reason, "error", errText)
	c.stats.add(func(s *Stats) { s.DeadLettered[reason]++ })
	c.ack(ctx, msg, log)
	if reason == breach.ReasonSecretField {
		c.erase(ctx, meta, log)
	}
}

func (c *Consumer) ack(ctx context.Context, msg jetstream.Msg, log *slog.Logger) {
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		// Redelivered later; start/signal and dead letters are idempotent.
		log.Error("ack failed", "err", err)
		c.stats.add(func(s *Stats) { s.AckErrors++ })
		return
	}
	c.stats.add(func(s *Stats) { s.Acked++ })
}

// erase removes a message that carried a secret-looking field from the
// BREACH stream (secure delete overwrites it on disk). The DLQ keeps a
// redacted copy.
func (c *Consumer) erase(ctx context.Context, meta *jetstream.MsgMetadata, log *slog.Logger) {
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c.streamMu.Lock()
	st := c.stream
	c.streamMu.Unlock()
	if st == nil {
		var err error
		st, err = c.js.Stream(ectx, meta.Stream)
		if err != nil {
			log.Error("cannot erase secret-bearing message", "err", err)
			return
		}
		c.streamMu.Lock()
		c.stream = st
		c.streamMu.Unlock()
	}
	if err := st.SecureDeleteMsg(ectx, meta.Sequence.Stream); err != nil {
		log.Error("cannot erase secret-bearing message", "err", err)
		return
	}
	c.stats.add(func(s *Stats) { s.Erased++ })
}
