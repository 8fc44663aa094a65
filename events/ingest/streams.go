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
	// publisher only.
	MaxMessageBytes = 512 << 10
)

// EnsureStreams creates or updates the BREACH and BREACH_DLQ streams (file
// storage). Breach events are kept 30 days, dead letters 90: both are
// evidence for the post-incident review.
func EnsureStreams(ctx context.Context, js jetstream.JetStream) error {
	if _, err := jsutil.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:        StreamBreach,
		Description: "Breach events (CloudEvents JSON) on breach.<bot>.<kind>",
		Subjects:    []string{SubjectsBreach},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      30 * 24 * time.Hour,
		MaxMsgSize:  MaxMessageBytes,
		Duplicates:  2 * time.Minute, // Nats-Msg-Id = event id: publisher retries dedup
		Discard:     jetstream.DiscardOld,
	}); err != nil {
		return fmt.Errorf("stream %s: %w", StreamBreach, err)
	}
	if _, err := jsutil.EnsureStream(ctx, js, jetstream.StreamConfig{
		Name:        StreamDLQ,
		Description: "Breach events that can never be processed, with Runbook-Dlq-* headers",
		Subjects:    []string{SubjectsDLQ},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      90 * 24 * time.Hour,
		MaxMsgSize:  MaxMessageBytes + 8<<10,
		Duplicates:  2 * time.Minute,
	}); err != nil {
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
