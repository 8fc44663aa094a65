package ingest

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// collector turns the consume callbacks of every lane into batches.
//
// A batch is taken round-robin from the lanes that have messages waiting
// (one message from each in turn), each lane within its rate (Lane.Rate),
// so a lane with a deep backlog fills at most its share of a batch and an
// event in a quiet lane is in the next batch: before lanes, an event queued
// behind 100,000 others waited for all of them.
//
// A batch is one message (waited for) plus what the server already holds
// behind it: the first message's NumPending says how many more are stored
// for its consumer, and next waits (at most lingerMax) for those to arrive,
// so a burst stored at once is handled as one batch — a mass breach goes to
// the fleet runbook whatever the machine's speed — while a lone event
// (NumPending 0) never waits.
type collector struct {
	srcs []*source
	size int
	// wake has a token whenever a message was added since next last
	// looked, or the collector closed.
	wake chan struct{}
	now  func() time.Time

	mu     sync.Mutex
	closed bool
	rr     int // the lane the next round starts with
}

// source is one lane's buffer.
type source struct {
	lane Lane
	in   chan jetstream.Msg
	rate *laneRate // used by next only
}

// lingerMax bounds the wait for messages the server holds but has not yet
// delivered to the client buffer (they are in flight on the same pull).
const lingerMax = 20 * time.Millisecond

func newCollector(size int, lanes []Lane) *collector {
	c := &collector{size: size, wake: make(chan struct{}, 1), now: time.Now}
	for _, l := range lanes {
		// One batch of buffer per lane: the next batch fills while this
		// one is handled.
		c.srcs = append(c.srcs, &source{lane: l, in: make(chan jetstream.Msg, size), rate: newLaneRate(l)})
	}
	return c
}

// add returns lane i's consume callback. It blocks while that lane's
// buffer is full, which holds back further delivery on that lane only (the
// client stops pulling past PullMaxMessages).
func (c *collector) add(i int) func(m jetstream.Msg) {
	s := c.srcs[i]
	return func(m jetstream.Msg) {
		s.in <- m
		c.poke()
	}
}

func (c *collector) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close ends next once every buffer is empty. Call after the consume
// callbacks can no longer run.
func (c *collector) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.poke()
}

func (c *collector) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// buffered is how many fetched messages wait, over all lanes.
func (c *collector) buffered() int {
	n := 0
	for _, s := range c.srcs {
		n += len(s.in)
	}
	return n
}

// next blocks for one message, then takes what is buffered and what the
// server already holds behind it, up to the batch size. It returns nil once
// closed and empty.
func (c *collector) next() []jetstream.Msg {
	batch := make([]jetstream.Msg, 0, c.size)
	for len(batch) == 0 {
		batch = c.take(batch)
		if len(batch) > 0 {
			break
		}
		if c.isClosed() && c.buffered() == 0 {
			return nil
		}
		// Nothing may go now: wait for a message, or for a rate-capped
		// lane's next token.
		if d := c.rateWait(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-c.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		<-c.wake
	}
	want := c.size
	if md, err := batch[0].Metadata(); err == nil && md.NumPending < uint64(want) {
		want = int(md.NumPending) + 1
	}
	if len(batch) >= want {
		return batch
	}
	timer := time.NewTimer(lingerMax)
	defer timer.Stop()
	for len(batch) < want {
		select {
		case <-c.wake:
			batch = c.take(batch)
			if c.isClosed() {
				return batch
			}
		case <-timer.C:
			return c.take(batch)
		}
	}
	return batch
}

// take adds to batch, round-robin over the lanes, what each lane's rate
// lets go now, until the batch is full or nothing more may go.
func (c *collector) take(batch []jetstream.Msg) []jetstream.Msg {
	now := c.now()
	room := c.size - len(batch)
	allow := make([]int, len(c.srcs))
	for i, s := range c.srcs {
		allow[i] = s.rate.take(min(len(s.in), room), now)
	}
	c.mu.Lock()
	start := c.rr
	c.mu.Unlock()
	for took := true; took && len(batch) < c.size; {
		took = false
		for k := range c.srcs {
			if len(batch) >= c.size {
				break
			}
			i := (start + k) % len(c.srcs)
			if allow[i] == 0 {
				continue
			}
			select {
			case m := <-c.srcs[i].in:
				batch = append(batch, m)
				allow[i]--
				took = true
			default:
				allow[i] = 0
			}
		}
	}
	for i, s := range c.srcs {
		s.rate.refund(allow[i])
	}
	c.mu.Lock()
	c.rr = (start + 1) % len(c.srcs)
	c.mu.Unlock()
	return batch
}

// rateWait is the shortest wait until a rate-capped lane with messages may
// send again (0: none is waiting on its rate).
func (c *collector) rateWait() time.Duration {
	var d time.Duration
	for _, s := range c.srcs {
		if len(s.in) == 0 {
			continue
		}
		if w := s.rate.wait(); w > 0 && (d == 0 || w < d) {
			d = w
		}
	}
	return d
}

// pullMaxMessages is the client-side fetch buffer: two batches, so the
// next batch is already fetched while one is handled. More only makes
// messages wait in buffers while their AckWait runs.
func pullMaxMessages(batch int) int { return 2 * batch }

// maxAckPending must cover every message between server and ack: the
// client buffer, the collector's buffer and the batch in hand (4 batches),
// plus room for naked messages waiting out their backoff.
func maxAckPending(batch int) int { return max(1000, 8*batch) }
