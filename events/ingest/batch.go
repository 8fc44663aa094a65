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

	ev      breach.Event
	evMap   map[string]any
	key     string // replay key
	matches []Match
	ended   bool

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
	a := []any{"subject", it.msg.Subject(), "seq", it.meta.Sequence.Stream, "delivery", it.meta.NumDelivered}
	if it.ev.ID != "" {
		a = append(a, "event", it.ev.ID, "bot", it.ev.Data.Bot)
	}
	return append(a, more...)
}

// handleBatch takes one batch through the stages: decode and verify (in
// parallel), match, group by incident (fleet routing included), one
// Starter call per incident (concurrently), then ack or nak each message.
// Batches run one after another, so one bot's events keep stream order.
func (c *Consumer) handleBatch(ctx context.Context, msgs []jetstream.Msg) {
	items := make([]*item, 0, len(msgs))
	maxD := uint64(c.cfg.MaxDeliver)
	for _, m := range msgs {
		meta, err := m.Metadata()
		if err != nil {
			// Not a JetStream message: nothing to ack, nothing to redeliver.
			c.log.Error("message without JetStream metadata", "subject", m.Subject(), "err", err)
			continue
		}
		items = append(items, &item{msg: m, meta: meta, last: meta.NumDelivered >= maxD})
	}
	c.stats.add(func(s *Stats) {
		s.Received += uint64(len(msgs))
		s.Batches++
	})
	// A panic here (a bug) must not take the process down: whatever has
	// not ended yet is redelivered after its backoff.
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("panic while handling a batch", "panic", fmt.Sprint(p))
			for _, it := range items {
				if !it.ended {
					c.nak(it, c.backoff(it.meta.NumDelivered))
				}
			}
		}
	}()
	rbs := c.cfg.Runbooks()
	c.verifyStage(ctx, items, rbs)
	groups := c.route(items, rbs)
	c.startStage(ctx, groups)
	for _, it := range items {
		if it.ended {
			continue
		}
		if it.startErr != nil {
			c.retry(ctx, it, ReasonStartFailed, it.startErr)
			continue
		}
		c.ack(it)
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
