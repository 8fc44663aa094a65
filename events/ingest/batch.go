package ingest

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// item is one delivered message on its way through a batch. Every item
// ends exactly once: acked, naked or dead-lettered (ended records it).
type item struct {
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	last bool // the last delivery before dead-lettering
	// subject is the breach subject the publisher used and publisher its
	// lane ("" shared): a lane's stored subject is lane.<p>.breach.x.y.
	subject   string
	publisher string
	// headerSigned: the Runbook-Signature header verified (breach.Precheck).
	headerSigned bool

	ev      breach.Event
	evMap   map[string]any
	key     string // replay key
	matches []Match
	ended   bool
	// reject is the refusal to write to the DLQ at the end of the batch;
	// settled once that write was attempted.
	reject  *rejection
	settled bool

	mu       sync.Mutex
	startErr error // first failed Starter call among the item's incidents
}

func (it *item) fail(err error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.startErr == nil {
		it.startErr = err
	}
}

// attrs are the log attributes of the item, built only on paths that log.
func (it *item) attrs(more ...any) []any {
	a := []any{"subject", it.subject, "publisher", it.publisher, "seq", it.meta.Sequence.Stream, "delivery", it.meta.NumDelivered}
	if it.ev.ID != "" {
		a = append(a, "event", it.ev.ID, "bot", it.ev.Data.Bot)
	}
	return append(a, more...)
}

// batch is a fetched batch between the two stages of the pipeline.
type batch struct {
	items []*item
	rbs   []LoadedRunbook
}

// The pipeline has two stages, each handling one batch at a time:
//
//	prepare:  decode, verify (replay claim), match        -- CPU and KV
//	dispatch: group by incident (fleet routing), one Starter call per
//	          incident, then ack or nak each message       -- Temporal
//
// prepare of batch N+1 overlaps dispatch of batch N, so decoding does not
// wait for Temporal. Starter calls still run batch after batch, which
// keeps one bot's events in stream order and lets routing see what the
// previous batch started.

// prepare takes a fetched batch through decode, verify and match. Items
// that fail end here; the rest leave with their matches.
func (c *Consumer) prepare(ctx context.Context, msgs []jetstream.Msg) (b *batch) {
	b = &batch{items: make([]*item, 0, len(msgs))}
	maxD := uint64(c.cfg.MaxDeliver)
	for _, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			// Not a JetStream message: nothing to ack, nothing to redeliver.
			c.log.Error("message without JetStream metadata", "subject", m.Subject(), "err", err)
			continue
		}
		it := &item{msg: m, meta: meta, last: meta.NumDelivered >= maxD}
		var ok bool
		if it.publisher, it.subject, ok = SplitLane(m.Subject()); !ok {
			// The lane consumers' filters make this impossible; if it ever
			// happens the event is still judged, on the subject as stored.
			it.subject = m.Subject()
		}
		b.items = append(b.items, it)
	}
	c.stats.add(func(s *Stats) {
		s.Received += uint64(len(msgs))
		s.Batches++
	})
	defer c.recoverBatch(b)
	b.rbs = c.cfg.Runbooks()
	c.verifyStage(ctx, b.items, b.rbs)
	return b
}

// dispatch groups a prepared batch by incident, calls the Starter once per
// group, then acks every message whose incidents all succeeded and naks
// the rest.
func (c *Consumer) dispatch(ctx context.Context, b *batch) {
	defer c.recoverBatch(b)
	groups := c.route(b.items, b.rbs)
	c.startStage(ctx, groups)
	for _, it := range b.items {
		if it.ended {
			continue
		}
		if it.startErr != nil {
			c.retry(ctx, it, ReasonStartFailed, it.startErr)
			continue
		}
		c.ack(it)
	}
	// After the Starter calls: a genuine breach in a batch of refusals is
	// started before any of them is written.
	c.flushRejects(ctx, b.items)
	c.noteFlood(b.items)
}

// recoverBatch turns a panic in a stage (a bug) into a delayed
// redelivery of whatever has not ended yet, instead of a crash. Deferred
// by each stage.
func (c *Consumer) recoverBatch(b *batch) {
	p := recover()
	if p == nil {
		return
	}
	c.log.Error("panic while handling a batch", "panic", fmt.Sprint(p))
	for _, it := range b.items {
		if !it.ended || (it.reject != nil && !it.settled) {
			it.settled = true
			c.nak(it, c.backoff(it.meta.NumDelivered))
		}
	}
}

// guard turns a panic while handling one item into a delayed redelivery;
// after MaxDeliver attempts the message is dead-lettered.
func (c *Consumer) guard(it *item, f func()) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("panic while handling a message", it.attrs("panic", fmt.Sprint(p))...)
			if !it.ended {
				c.nak(it, c.backoff(it.meta.NumDelivered))
			}
		}
	}()
	f()
}
