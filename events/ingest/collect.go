package ingest

import "github.com/nats-io/nats.go/jetstream"

// collector turns the consume callback's stream of messages into batches.
// There is no linger: a batch is one message (waited for) plus whatever
// is already buffered, so a lone event is handled at once and only a storm
// makes batches big.
type collector struct {
	in   chan jetstream.Msg
	size int
}

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

// next blocks for one message, then takes what is already buffered up to
// the batch size without waiting. It returns nil once closed and empty.
func (c *collector) next() []jetstream.Msg {
	m, ok := <-c.in
	if !ok {
		return nil
	}
	batch := make([]jetstream.Msg, 1, c.size)
	batch[0] = m
	for len(batch) < c.size {
		select {
		case m, ok := <-c.in:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		default:
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
