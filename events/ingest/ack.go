package ingest

import (
	"context"
	"time"

	"github.com/keyresponse/runbook/events/breach"
)

// ack acknowledges an item without waiting for the server's confirmation.
// A plain Ack costs no round trip; if it is lost (connection drop, server
// restart) the message comes back after AckWait, and every path is
// idempotent under that redelivery: the replay claim stores the message's
// stream sequence, so a redelivered message is not a replay; start and
// signal are idempotent per incident id and event id; a dead letter's
// Nats-Msg-Id is derived from the stream sequence.
func (c *Consumer) ack(it *item) {
	it.ended = true
	if err := it.msg.Ack(); err != nil {
		c.log.Error("ack failed", it.attrs("err", err)...)
		c.stats.add(func(s *Stats) { s.AckErrors++ })
		return
	}
	c.stats.add(func(s *Stats) { s.Acked++ })
}

// nak asks for redelivery after delay.
func (c *Consumer) nak(it *item, delay time.Duration) {
	it.ended = true
	c.stats.add(func(s *Stats) { s.Retried++ })
	if err := it.msg.NakWithDelay(delay); err != nil {
		// The server redelivers after AckWait anyway.
		c.log.Error("nak failed", it.attrs("err", err)...)
	}
}

// retry naks with the backoff delay, or dead-letters on the last attempt.
func (c *Consumer) retry(ctx context.Context, it *item, reason breach.Reason, err error) {
	if it.last {
		c.deadLetter(ctx, it, reason, err.Error())
		return
	}
	delay := c.backoff(it.meta.NumDelivered)
	c.log.Warn("will retry", it.attrs("err", err, "delay", delay)...)
	c.nak(it, delay)
}

// deadLetter refuses the item for good: it is written to the DLQ (whole
// or in a summary) at the end of its batch, then acked (dlqbatch.go). If
// the DLQ write fails the message is naked instead: it is never acked
// unrecorded.
func (c *Consumer) deadLetter(_ context.Context, it *item, reason breach.Reason, errText string) {
	c.reject(it, reason, errText)
}

// erase removes a message that carried a secret-looking field from the
// BREACH stream (secure delete overwrites it on disk). The DLQ keeps a
// redacted copy.
func (c *Consumer) erase(ctx context.Context, it *item) {
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The message's own stream: every lane has one, with its own
	// sequences (deleting that sequence in another stream would destroy an
	// unrelated event and leave the secret where it was).
	name := it.meta.Stream
	c.streamMu.Lock()
	st := c.streams[name]
	c.streamMu.Unlock()
	if st == nil {
		var err error
		st, err = c.js.Stream(ectx, name)
		if err != nil {
			c.log.Error("cannot erase secret-bearing message", it.attrs("err", err)...)
			return
		}
		c.streamMu.Lock()
		c.streams[name] = st
		c.streamMu.Unlock()
	}
	if err := st.SecureDeleteMsg(ectx, it.meta.Sequence.Stream); err != nil {
		c.log.Error("cannot erase secret-bearing message", it.attrs("err", err)...)
		return
	}
	c.stats.add(func(s *Stats) { s.Erased++ })
}
