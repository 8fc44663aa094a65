package ingest

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// collector turns the consume callback's stream of messages into batches.
// A batch is one message (waited for) plus what the server already holds
// behind it: the first message's NumPending says how many more are stored
// for this consumer, and next waits (at most lingerMax) for those to arrive,
// so a burst stored at once is handled as one batch — a mass breach goes to
// the fleet runbook whatever the machine's speed — while a lone event
// (NumPending 0) never waits.
type collector struct {
	in   chan jetstream.Msg
	size int
}

// lingerMax bounds the wait for messages the server holds but has not yet
// delivered to the client buffer (they are in flight on the same pull).
const lingerMax = 20 * time.Millisecond

func newCollector(size int) *collector {
	// One batch of buffer: the next batch fills while this one is handled.
	return &collector{in: make(chan jetstream.Msg, size), size: size}
}

// add is the consume callback. It blocks while the buffer is full, which
// holds back further delivery (the client stops pulling past
// PullMaxMessages).
func (c *collector) add(m jetstream.Msg) { c.in <- m }

// close ends next once the buffer is empty. Call after the consume
// callback can no longer run.
func (c *collector) close() { close(c.in) }

// next blocks for one message, then takes what is buffered and what the
// server already holds behind it, up to the batch size. It returns nil once
// closed and empty.
func (c *collector) next() []jetstream.Msg {
	m, ok := <-c.in
	if !ok {
		return nil
	}
	batch := make([]jetstream.Msg, 1, c.size)
	batch[0] = m
	want := c.size
	if md, err := m.Metadata(); err == nil && md.NumPending < uint64(want) {
		want = int(md.NumPending) + 1
	}
buffered:
	for len(batch) < c.size {
		select {
		case m, ok := <-c.in:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		default:
			break buffered
		}
	}
	if len(batch) >= want {
		return batch
	}
	timer := time.NewTimer(lingerMax)
	defer timer.Stop()
	for len(batch) < want {
		select {
		case m, ok := <-c.in:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// pullMaxMessages is the client-side fetch buffer: two batches, so the
// next batch is already fetched while one is handled. More only makes
// messages wait in buffers while their AckWait runs.
func pullMaxMessages(batch int) int { return 2 * batch }

// maxAckPending must cover every message between server and ack: the
// client buffer, the collector's buffer and the batch in hand (4 batches),
// plus room for naked messages waiting out their backoff.
func maxAckPending(batch int) int { return max(1000, 8*batch) }
