package ingest

import (
	"github.com/keyresponse/runbook/events/jsutil"

	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// Stream, subject and bucket names. Operators who pre-create them (deploy/)
// must use the same names.
const (
	StreamBreach   = "BREACH"
	SubjectsBreach = "breach.>"
	StreamDLQ      = "BREACH_DLQ"
	DLQPrefix      = "dlq."
	SubjectsDLQ    = "dlq.breach.>"
	// ReplayBucket is the KV bucket of event ids already seen.
	ReplayBucket = "breach_seen"
	// DefaultDurable is the trigger consumer's durable name.
	DefaultDurable = "runbook-trigger"
	// MaxMessageBytes is the stream's message cap: larger than
	// breach.MaxEventBytes on purpose, so an oversized event reaches the
	// consumer and is dead-lettered with a reason instead of failing at the
	// publisher only. It is half the NATS server's default max_payload
	// (1 MiB), which bounds headers and body together anyway.
	MaxMessageBytes = 512 << 10
	// MaxDLQMessageBytes caps one dead letter: the body is at most
	// breach.MaxEventBytes (an oversized body keeps only a prefix, see
	// dlq.go) plus the copied headers (at most dlqMaxCopiedHeaderBytes)
	// and the Runbook-Dlq-* headers.
	MaxDLQMessageBytes = breach.MaxEventBytes + 32<<10
)

// Default stream limits (StorageLimits). Without them one burst of large
// events wrote 4 GB to disk in 3 s. A breach event is about 1 KB, so the
// BREACH defaults hold a million typical events (a 100,000-event storm ten
// times over); the DLQ holds 4,000 dead letters even at the largest size.
const (
	DefaultBreachMaxBytes int64 = 1 << 30
	DefaultBreachMaxMsgs  int64 = 1_000_000
	DefaultDLQMaxBytes    int64 = 256 << 20
	DefaultDLQMaxMsgs     int64 = 100_000
)

// StorageLimits bounds the disk the breach streams may use. Zero fields take
// the defaults above; every stream gets a byte and a message cap, never
// unlimited.
type StorageLimits struct {
	BreachMaxBytes int64
	BreachMaxMsgs  int64
	DLQMaxBytes    int64
	DLQMaxMsgs     int64
}

// withDefaults fills zero fields.
func (l StorageLimits) withDefaults() StorageLimits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.BreachMaxBytes, DefaultBreachMaxBytes)
	def(&l.BreachMaxMsgs, DefaultBreachMaxMsgs)
	def(&l.DLQMaxBytes, DefaultDLQMaxBytes)
	def(&l.DLQMaxMsgs, DefaultDLQMaxMsgs)
	return l
}

// Discard policies, chosen per stream (one owner: deploy/nats/streams/*.json
// are checked against these by deploy's tests).
//
// BREACH discards new: when it is full, a publish is refused and the
// publisher's ack fails (Publish returns ErrStreamFull), so the publisher
// knows and retries or raises the alarm, and every event the stream did
// accept stays until the consumer has handled it. DiscardOld would instead
// silently drop the oldest event, which during a storm with the consumer
// behind is an unprocessed breach whose key then never gets revoked. A full
// BREACH is an outage the stream-capacity alert reports, not a silent loss.
//
// BREACH_DLQ discards old: its only writer is the trigger consumer, which
// never acks a message it could not dead-letter; a DLQ that refused would
// leave every further bad event redelivering in BREACH forever, filling
// BREACH in turn. Dropping the oldest dead letter (already counted and
// alerted on when it was written) keeps the pipeline moving; the watcher
// counts those drops (runbook_stream_discarded_total) and alerts.
const (
	BreachDiscard = jetstream.DiscardNew
	DLQDiscard    = jetstream.DiscardOld
)

// BreachStreamConfig is the BREACH stream as the workers create it.
func BreachStreamConfig(l StorageLimits) jetstream.StreamConfig {
	l = l.withDefaults()
	return jetstream.StreamConfig{
		Name:        StreamBreach,
		Description: "Breach events (CloudEvents JSON) on breach.<bot>.<kind>",
		Subjects:    []string{SubjectsBreach},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      30 * 24 * time.Hour,
		MaxBytes:    l.BreachMaxBytes,
		MaxMsgs:     l.BreachMaxMsgs,
		MaxMsgSize:  MaxMessageBytes,
		Duplicates:  2 * time.Minute, // Nats-Msg-Id = event id: publisher retries dedup
		Discard:     BreachDiscard,
	}
}

// DLQStreamConfig is the BREACH_DLQ stream as the workers create it.
func DLQStreamConfig(l StorageLimits) jetstream.StreamConfig {
	l = l.withDefaults()
	return jetstream.StreamConfig{
		Name:        StreamDLQ,
		Description: "Breach events that can never be processed, with Runbook-Dlq-* headers",
		Subjects:    []string{SubjectsDLQ, SubjectsDLQSummary},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      90 * 24 * time.Hour,
		MaxBytes:    l.DLQMaxBytes,
		MaxMsgs:     l.DLQMaxMsgs,
		MaxMsgSize:  MaxDLQMessageBytes,
		Duplicates:  2 * time.Minute,
		Discard:     DLQDiscard,
	}
}

// EnsureStreams creates or updates the BREACH and BREACH_DLQ streams (file
// storage) with the default limits. Breach events are kept 30 days, dead
// letters 90: both are evidence for the post-incident review.
func EnsureStreams(ctx context.Context, js jetstream.JetStream) error {
	return EnsureStreamsWith(ctx, js, StorageLimits{})
}

// EnsureStreamsWith is EnsureStreams with configured limits.
func EnsureStreamsWith(ctx context.Context, js jetstream.JetStream, l StorageLimits) error {
	if _, err := jsutil.EnsureStream(ctx, js, BreachStreamConfig(l)); err != nil {
		return fmt.Errorf("stream %s: %w", StreamBreach, err)
	}
	if _, err := jsutil.EnsureStream(ctx, js, DLQStreamConfig(l)); err != nil {
		return fmt.Errorf("stream %s: %w", StreamDLQ, err)
	}
	return nil
}

// ReplayTTL is how long event ids are remembered for a window: an event
// can be accepted from window before to window after its arrival, so an id
// older than both plus a margin can never be accepted again anyway.
func ReplayTTL(window time.Duration) time.Duration {
	if window <= 0 {
		window = breach.DefaultWindow
	}
	return 2*window + time.Minute
}

// EnsureReplayBucket creates or updates the KV bucket of seen event ids.
func EnsureReplayBucket(ctx context.Context, js jetstream.JetStream, window time.Duration) (jetstream.KeyValue, error) {
	kv, err := jsutil.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      ReplayBucket,
		Description: "ids of breach events already accepted (replay protection)",
		TTL:         ReplayTTL(window),
		Storage:     jetstream.FileStorage,
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("kv %s: %w", ReplayBucket, err)
	}
	return kv, nil
}
