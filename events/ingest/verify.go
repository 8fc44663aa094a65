package ingest

import (
	"context"
	"fmt"

	"github.com/keyresponse/runbook/events/breach"
)

// verifyStage decodes, verifies and matches every item of a batch, with
// up to VerifyConcurrency in flight: decode is CPU work, the replay claim
// a KV round trip, and concurrent claims pipeline over one connection.
// Items that fail end here (dead letter, nak, or ack as unmatched); the
// rest leave with their matches.
func (c *Consumer) verifyStage(ctx context.Context, items []*item, rbs []LoadedRunbook) {
	workers := c.cfg.VerifyConcurrency
	parallel(len(items), workers, func(i int) {
		it := items[i]
		c.guard(it, func() { c.decode(ctx, it) })
	})
	// The same event twice in one batch (a replay, or the publisher's
	// retry under a new Nats-Msg-Id): the first in stream order claims the
	// id, as it would one message at a time; the later ones are verified
	// after it and refused as replayed.
	seen := make(map[string]bool, len(items))
	var first, again []*item
	for _, it := range items {
		if it.ended {
			continue
		}
		if seen[it.key] {
			again = append(again, it)
			continue
		}
		seen[it.key] = true
		first = append(first, it)
	}
	parallel(len(first), workers, func(i int) {
		it := first[i]
		c.guard(it, func() { c.verify(ctx, it, rbs) })
	})
	for _, it := range again {
		c.guard(it, func() { c.verify(ctx, it, rbs) })
	}
}

// decode parses the body strictly; a refusal is dead-lettered.
func (c *Consumer) decode(ctx context.Context, it *item) {
	if it.meta.NumDelivered > uint64(c.cfg.MaxDeliver) {
		// Earlier deliveries never finished (crash or hang): poison.
		c.deadLetter(ctx, it, ReasonRetriesExhausted, fmt.Sprintf("delivered %d times without finishing", it.meta.NumDelivered))
		return
	}
	body := it.msg.Data()
	if len(body) <= breach.MaxEventBytes { // an oversized body is refused by Decode unread
		// Before parsing: a forged header signature or a plainly unsigned
		// event is refused after one HMAC or one scan of the bytes.
		hs, err := c.cfg.Verifier.Precheck(it.subject, it.msg.Headers().Get(breach.HeaderSignature), body)
		if err != nil {
			c.refused(ctx, it, err)
			return
		}
		it.headerSigned = hs
	}
	ev, err := breach.Decode(it.subject, body)
	if err != nil {
		c.refused(ctx, it, err)
		return
	}
	it.ev = ev
	it.key = breach.ReplayKey(ev)
}

// verify checks signature, time window and replay, then matches the
// event against the runbooks.
func (c *Consumer) verify(ctx context.Context, it *item, rbs []LoadedRunbook) {
	err := c.cfg.Verifier.Verify(ctx, it.ev, breach.Delivery{Subject: it.subject, ArrivedAt: it.meta.Timestamp,
		Stream: it.meta.Stream, StreamSeq: it.meta.Sequence.Stream, HeaderSigned: it.headerSigned})
	if err != nil {
		c.refused(ctx, it, err)
		return
	}
	evMap, err := it.ev.Map()
	if err != nil {
		c.deadLetter(ctx, it, breach.ReasonSchema, err.Error())
		return
	}
	it.evMap = evMap
	matches, err := MatchEvent(rbs, it.ev, evMap, it.subject)
	if err != nil {
		c.deadLetter(ctx, it, ReasonTrigger, err.Error())
		return
	}
	if len(matches) == 0 {
		if c.cfg.RequireMatch {
			c.deadLetter(ctx, it, ReasonNoMatch, "no runbook trigger matches "+it.subject)
			return
		}
		c.log.Info("no runbook matches; acked", it.attrs()...)
		c.stats.add(func(s *Stats) { s.Unmatched++ })
		c.ack(it)
		return
	}
	it.matches = matches
}

// refused dead-letters a permanent refusal and retries a transient error
// (e.g. the replay guard's KV could not answer).
func (c *Consumer) refused(ctx context.Context, it *item, err error) {
	if r := breach.ReasonOf(err); r != "" {
		c.deadLetter(ctx, it, r, err.Error())
		return
	}
	c.retry(ctx, it, ReasonRetriesExhausted, err)
}
