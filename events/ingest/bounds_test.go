package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// An oversized body is dead-lettered as a prefix plus the whole body's
// sha256 and size, and the error says it was truncated: one huge bad event
// takes 4 KiB of the DLQ, not half a megabyte.
func TestOversizedDeadLetterKeepsPrefixAndHash(t *testing.T) {
	e := newEnv(t)
	c, _ := e.runConsumer(&fakeStarter{})
	body := []byte(`{"pad":"` + strings.Repeat("A", 300<<10) + `"}`)
	e.publishRaw("breach.bot-1.key_leaked", body, "huge-1")
	waitFor(t, "dead letter", func() bool { return c.Stats().DeadLettered[breach.ReasonOversized] == 1 })

	dl := e.dlq()
	if len(dl) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dl))
	}
	m := dl[0]
	sum := sha256.Sum256(body)
	if len(m.Data) != DLQBodyPrefixBytes || string(m.Data) != string(body[:DLQBodyPrefixBytes]) {
		t.Errorf("dead letter body is %d bytes, want the first %d of the original", len(m.Data), DLQBodyPrefixBytes)
	}
	if got := m.Header.Get(HeaderDlqBodySHA256); got != hex.EncodeToString(sum[:]) {
		t.Errorf("%s = %q, want the original body's sha256", HeaderDlqBodySHA256, got)
	}
	if got := m.Header.Get(HeaderDlqBodySize); got != strconv.Itoa(len(body)) {
		t.Errorf("%s = %q, want %d", HeaderDlqBodySize, got, len(body))
	}
	if m.Header.Get(HeaderDlqTruncated) != "true" || m.Header.Get(HeaderDlqReason) != string(breach.ReasonOversized) {
		t.Errorf("headers %v: want truncated=true and reason oversized", m.Header)
	}
	if e := m.Header.Get(HeaderDlqError); !strings.Contains(e, "body truncated to its first 4096 of") {
		t.Errorf("error %q does not say the body was truncated", e)
	}

	// An oversized body naming a secret-looking field in its prefix is
	// withheld: it was never parsed, so nothing else redacted it.
	secret := []byte(`{"data":{"evidence":{"api_secret":"LEAKED-SECRET-VALUE","pad":"` + strings.Repeat("B", 100<<10) + `"}}}`)
	e.publishRaw("breach.bot-1.key_leaked", secret, "huge-secret")
	waitFor(t, "secret dead letter", func() bool { return c.Stats().DeadLettered[breach.ReasonOversized] == 2 })
	m = e.dlq()[1]
	if strings.Contains(string(m.Data), "LEAKED-SECRET-VALUE") || m.Header.Get(HeaderDlqRedacted) != "true" || m.Header.Get(HeaderDlqTruncated) != "true" {
		t.Errorf("oversized secret-bearing body copied: %q redacted=%q", m.Data, m.Header.Get(HeaderDlqRedacted))
	}
	if e := m.Header.Get(HeaderDlqError); !strings.Contains(e, "body truncated to nothing") {
		t.Errorf("error %q does not say the body was withheld", e)
	}

	// A body within the event limit is kept whole (it can be fixed and
	// republished), however bad it is otherwise.
	small := []byte(`{"specversion":"1.0",` + strings.Repeat(" ", 10<<10))
	e.publishRaw("breach.bot-1.key_leaked", small, "bad-2")
	waitFor(t, "third dead letter", func() bool { return c.Stats().DeadLetteredTotal() == 3 })
	m = e.dlq()[2]
	if string(m.Data) != string(small) || m.Header.Get(HeaderDlqTruncated) != "" {
		t.Errorf("a %d-byte body was not kept whole: %d bytes, truncated=%q", len(small), len(m.Data), m.Header.Get(HeaderDlqTruncated))
	}
}

// A message that is nearly all headers still dead-letters (its headers are
// left out and that is marked) instead of exceeding the DLQ's message cap
// and redelivering forever.
func TestHugeHeadersDeadLetterWithoutThem(t *testing.T) {
	e := newEnv(t)
	c, _ := e.runConsumer(&fakeStarter{})
	m := nats.NewMsg("breach.bot-1.key_leaked")
	m.Data = []byte(`not json`)
	m.Header.Set("X-Pad", strings.Repeat("h", 60<<10)) // the server allows up to 64 KiB of headers
	if _, err := e.js.PublishMsg(context.Background(), m, jetstream.WithMsgID("hdr-1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dead letter", func() bool { return c.Stats().DeadLetteredTotal() == 1 })
	dl := e.dlq()[0]
	if dl.Header.Get("X-Pad") != "" || dl.Header.Get(HeaderDlqHeadersDropped) != "true" {
		t.Errorf("headers copied or drop not marked: dropped=%q", dl.Header.Get(HeaderDlqHeadersDropped))
	}
	if dl.Header.Get(HeaderDlqOrigMsgID) != "hdr-1" {
		t.Errorf("original msg id %q, want hdr-1", dl.Header.Get(HeaderDlqOrigMsgID))
	}
}

// bigEvent is a valid signed event of about size bytes (padded evidence).
func (e *env) bigEvent(i, size int) breach.Event {
	ev := event("bot-"+strconv.Itoa(i), "key_leaked", breach.SeverityHigh, time.Now())
	ev.Data.Evidence["note"] = strings.Repeat("x", size)
	return e.sign(ev)
}

// BREACH discards new: at its MaxBytes a publish is refused with
// ErrStreamFull and counted, and every event already accepted stays.
func TestBreachAtLimitRefusesPublish(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := EnsureStreamsWith(ctx, e.js, StorageLimits{BreachMaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	w := NewCapacityWatcher(e.js, time.Hour, nil)
	before := PublishRefused()
	accepted := 0
	var err error
	for i := 0; i < 100; i++ {
		if _, err = Publish(ctx, e.js, e.bigEvent(i, 40<<10)); err != nil {
			break
		}
		accepted++
	}
	if !errors.Is(err, ErrStreamFull) {
		t.Fatalf("after %d events: publish error %v, want ErrStreamFull", accepted, err)
	}
	if accepted < 20 || accepted > 26 {
		t.Errorf("%d events of 40 KB accepted under a 1 MiB cap", accepted)
	}
	if got := PublishRefused() - before; got != 1 {
		t.Errorf("PublishRefused grew by %d, want 1", got)
	}
	st, _ := e.js.Stream(ctx, StreamBreach)
	info, _ := st.Info(ctx)
	if info.State.Msgs != uint64(accepted) || info.State.FirstSeq != 1 {
		t.Errorf("BREACH holds %d messages from seq %d, want all %d accepted from 1 (nothing dropped)", info.State.Msgs, info.State.FirstSeq, accepted)
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	u := usageOf(t, w, StreamBreach)
	if !u.AtLimit || u.Fill < 0.9 || u.MaxBytes != 1<<20 || u.Discarded != 0 {
		t.Errorf("usage %+v: want at limit, fill >= 0.9, nothing discarded", u)
	}
}

// BREACH_DLQ discards old: a full DLQ keeps taking dead letters (the
// consumer is never stuck), drops the oldest, and the watcher counts them.
func TestDLQAtLimitDropsOldestAndCounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := EnsureStreamsWith(ctx, e.js, StorageLimits{DLQMaxMsgs: 3}); err != nil {
		t.Fatal(err)
	}
	w := NewCapacityWatcher(e.js, time.Hour, nil)
	if err := w.Poll(ctx); err != nil { // baseline: empty
		t.Fatal(err)
	}
	c, _ := e.runConsumer(&fakeStarter{})
	for i := 0; i < 5; i++ {
		e.publishRaw("breach.bot-1.key_leaked", []byte(`{"bad":`+strconv.Itoa(i)), "bad-"+strconv.Itoa(i))
	}
	waitFor(t, "5 dead letters", func() bool { return c.Stats().DeadLetteredTotal() == 5 })
	dl := e.dlq()
	if len(dl) != 3 || !strings.Contains(string(dl[0].Data), `"bad":2`) {
		t.Fatalf("DLQ holds %d, first %q: want the newest 3", len(dl), dl[0].Data)
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	u := usageOf(t, w, StreamDLQ)
	if u.Discarded != 2 || !u.AtLimit || u.Fill != 1 {
		t.Errorf("DLQ usage %+v: want 2 discarded, at limit", u)
	}
	// Nothing more dropped: the count holds.
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if u := usageOf(t, w, StreamDLQ); u.Discarded != 2 {
		t.Errorf("discarded %d after an idle poll, want 2", u.Discarded)
	}
}

func usageOf(t *testing.T, w *CapacityWatcher, stream string) StreamUsage {
	t.Helper()
	for _, u := range w.Usage() {
		if u.Stream == stream {
			return u
		}
	}
	t.Fatalf("no usage for %s", stream)
	return StreamUsage{}
}

// A prefetch byte limit below the stream's message cap would stall the
// consumer on the first large message: it is refused, naming the setting.
func TestFetchBytesBelowMessageCapIsRefused(t *testing.T) {
	e := newEnv(t)
	_, err := NewConsumer(context.Background(), e.js, Config{
		Verifier: &breach.Verifier{Keys: testKeyring()}, Starter: &fakeStarter{},
		Runbooks: func() []LoadedRunbook { return nil }, FetchBytes: 64 << 10,
	})
	if err == nil || !strings.Contains(err.Error(), "FetchBytes") {
		t.Fatalf("err %v, want a refusal naming FetchBytes", err)
	}
}

// With the smallest allowed prefetch, maximum-size messages still flow.
func TestSmallPrefetchStillDeliversLargeMessages(t *testing.T) {
	e := newEnv(t)
	c, _ := e.runConsumer(&fakeStarter{}, func(cfg *Config) { cfg.FetchBytes = MaxMessageBytes })
	for i := 0; i < 4; i++ {
		e.publishRaw("breach.bot-1.key_leaked", []byte(strings.Repeat("z", MaxMessageBytes-1024)), "big-"+strconv.Itoa(i))
	}
	waitFor(t, "4 dead letters", func() bool { return c.Stats().DeadLettered[breach.ReasonOversized] == 4 })
}
