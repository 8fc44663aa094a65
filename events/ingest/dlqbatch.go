package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// Dead letters are written at the end of a batch, after its Starter calls,
// and all at once: a refused event is decided in the verify stage but only
// recorded here. Before, each was one synchronous DLQ publish in the verify
// stage, so a batch of forged events held up the genuine breach in the same
// batch by a thousand round trips, and rejecting capped out at ~8,000
// events/s.
//
// Past a budget the DLQ is summarised, never silently skipped: the first
// DLQWholePerSecond dead letters per publisher and reason each second are
// written whole (the sample), the rest of the batch's refusals of that
// publisher and reason become one summary dead letter on
// dlq.summary.<lane>.<reason>, naming every stream sequence it covers. The
// events themselves stay in their lane's stream until its limits, so the
// summary points at the originals; a flood cannot push the sample of the
// previous minutes out of the DLQ (it discards old), and costs one DLQ
// write per batch instead of one per event.

// SubjectsDLQSummary is where summary dead letters go (in the DLQ stream).
const (
	DLQSummaryPrefix   = "dlq.summary."
	SubjectsDLQSummary = DLQSummaryPrefix + ">"
)

// Headers of a summary dead letter (besides Runbook-Dlq-Reason, -Stream,
// -Time): HeaderDlqSummary "true", HeaderDlqCount the events it covers,
// HeaderDlqPublisher the lane ("" shared).
const (
	HeaderDlqSummary   = "Runbook-Dlq-Summary"
	HeaderDlqCount     = "Runbook-Dlq-Count"
	HeaderDlqPublisher = "Runbook-Dlq-Publisher"
)

// DefaultDLQWholePerSecond is Config.DLQWholePerSecond's default.
const DefaultDLQWholePerSecond = 200

// DLQSummary is the body of a summary dead letter.
type DLQSummary struct {
	Publisher string `json:"publisher"` // "" shared lane
	Stream    string `json:"stream"`
	Reason    string `json:"reason"`
	Count     int    `json:"count"`
	// Seqs are the stream sequences covered, as inclusive [first, last]
	// ranges in order.
	Seqs          [][2]uint64 `json:"seqs"`
	FirstArrived  time.Time   `json:"first_arrived"`
	LastArrived   time.Time   `json:"last_arrived"`
	MaxDelivered  uint64      `json:"max_delivered"`
	ExampleErrors []string    `json:"example_errors"` // up to 3 distinct
	// Written is when the summary was written; WholeThisSecond how many
	// dead letters of this publisher and reason were written whole in the
	// same second (the sample).
	Written         time.Time `json:"written"`
	WholeThisSecond int       `json:"whole_this_second"`
}

// rejection is a refusal decided in the verify stage, written at the end
// of the batch.
type rejection struct {
	reason breach.Reason
	text   string
}

// dlqBudget counts whole dead letters per publisher and reason per second.
type dlqBudget struct {
	perSecond int
	mu        sync.Mutex
	second    int64
	used      map[string]int
}

func (b *dlqBudget) take(key string, now time.Time) (whole bool, usedNow int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := now.Unix(); s != b.second || b.used == nil {
		b.second, b.used = s, map[string]int{}
	}
	if b.perSecond < 0 || b.used[key] < b.perSecond {
		b.used[key]++
		return true, b.used[key]
	}
	return false, b.used[key]
}

// reject marks an item refused; flushRejects writes and acks it.
func (c *Consumer) reject(it *item, reason breach.Reason, text string) {
	it.reject = &rejection{reason: reason, text: text}
	it.ended = true
}

// pendingWrite is one DLQ publish in flight and the items it settles.
type pendingWrite struct {
	fut    jetstream.PubAckFuture
	items  []*item
	reason breach.Reason
	whole  bool
}

// flushRejects writes the batch's dead letters (whole or summarised) with
// asynchronous publishes, waits for the server's acks, then acks each
// source message whose dead letter is stored and naks the rest.
func (c *Consumer) flushRejects(ctx context.Context, items []*item) {
	now := c.cfg.Now()
	type key struct {
		pub    string
		reason breach.Reason
	}
	var writes []*pendingWrite
	summaries := map[key][]*item{}
	var order []key
	publish := func(msg *nats.Msg, id string, its []*item, reason breach.Reason, whole bool) {
		// Settled only here: a panic before this point leaves the items
		// to recoverBatch, which naks them.
		for _, it := range its {
			it.settled = true
		}
		fut, err := c.js.PublishMsgAsync(msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(StreamDLQ))
		if err != nil {
			for _, it := range its {
				c.log.Error("dead letter publish failed; will retry", it.attrs("reason", reason, "err", err)...)
				c.nak(it, c.cfg.Backoff[0])
			}
			return
		}
		writes = append(writes, &pendingWrite{fut: fut, items: its, reason: reason, whole: whole})
	}
	for _, it := range items {
		if it.reject == nil || it.settled {
			continue
		}
		r := it.reject
		k := key{it.publisher, r.reason}
		if whole, _ := c.dlqBudget.take(it.publisher+"\x00"+string(r.reason), now); whole || r.reason == breach.ReasonSecretField {
			msg, id := deadLetterMsg(it.msg, it.subject, it.publisher, it.meta, r.reason, r.text, now)
			publish(msg, id, []*item{it}, r.reason, true)
			continue
		}
		if summaries[k] == nil {
			order = append(order, k)
		}
		summaries[k] = append(summaries[k], it)
	}
	for _, k := range order {
		its := summaries[k]
		msg, id := summaryMsg(its, k.pub, k.reason, c.dlqBudget.usedFor(k.pub+"\x00"+string(k.reason)), now)
		publish(msg, id, its, k.reason, false)
	}
	if len(writes) == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, w := range writes {
		var err error
		select {
		case <-w.fut.Ok():
		case err = <-w.fut.Err():
		case <-wctx.Done():
			err = wctx.Err()
		}
		for _, it := range w.items {
			if err != nil {
				c.log.Error("dead letter publish failed; will retry", it.attrs("reason", w.reason, "err", err)...)
				c.nak(it, c.cfg.Backoff[0])
				continue
			}
			if w.whole {
				c.log.Warn("dead-lettered", it.attrs("reason", w.reason, "error", it.reject.text)...)
			}
			c.stats.add(func(s *Stats) {
				s.DeadLettered[w.reason]++
				if !w.whole {
					s.Summarised++
				}
			})
			c.ack(it)
			if w.reason == breach.ReasonSecretField {
				c.erase(ctx, it)
			}
		}
		if err == nil && !w.whole {
			c.log.Warn("dead letters summarised", "publisher", w.items[0].publisher, "reason", w.reason, "count", len(w.items))
			c.stats.add(func(s *Stats) { s.DLQSummaries++ })
		}
	}
}

// usedFor is how many whole dead letters key had this second.
func (b *dlqBudget) usedFor(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used[key]
}

// summaryMsg is the summary dead letter of its (one publisher, one
// reason), in stream order. Its Nats-Msg-Id names the stream and the
// sequences it covers, so writing it again after a crash is deduplicated.
func summaryMsg(its []*item, publisher string, reason breach.Reason, whole int, now time.Time) (*nats.Msg, string) {
	sort.Slice(its, func(i, j int) bool { return its[i].meta.Sequence.Stream < its[j].meta.Sequence.Stream })
	s := DLQSummary{Publisher: publisher, Stream: its[0].meta.Stream, Reason: string(reason), Count: len(its),
		FirstArrived: its[0].meta.Timestamp.UTC(), LastArrived: its[len(its)-1].meta.Timestamp.UTC(),
		Written: now.UTC(), WholeThisSecond: whole}
	seen := map[string]bool{}
	for _, it := range its {
		q := it.meta.Sequence.Stream
		if n := len(s.Seqs); n > 0 && s.Seqs[n-1][1]+1 == q {
			s.Seqs[n-1][1] = q
		} else {
			s.Seqs = append(s.Seqs, [2]uint64{q, q})
		}
		s.MaxDelivered = max(s.MaxDelivered, it.meta.NumDelivered)
		if t := headerSafe(it.reject.text); len(s.ExampleErrors) < 3 && !seen[t] {
			seen[t] = true
			s.ExampleErrors = append(s.ExampleErrors, t)
		}
	}
	body, _ := json.Marshal(s) // plain types only
	lane := publisher
	if lane == "" {
		lane = "_shared" // not a valid publisher name: cannot collide
	}
	out := nats.NewMsg(DLQSummaryPrefix + lane + "." + string(reason))
	out.Data = body
	out.Header.Set(HeaderDlqSummary, "true")
	out.Header.Set(HeaderDlqReason, string(reason))
	out.Header.Set(HeaderDlqCount, strconv.Itoa(len(its)))
	out.Header.Set(HeaderDlqStream, s.Stream)
	out.Header.Set(HeaderDlqPublisher, publisher)
	out.Header.Set(HeaderDlqTime, now.UTC().Format(time.RFC3339Nano))
	id := fmt.Sprintf("dlqsum:%s:%d:%d:%d", s.Stream, s.Seqs[0][0], s.Seqs[len(s.Seqs)-1][1], len(its))
	return out, id
}
