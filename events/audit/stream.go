package audit

import (
	"github.com/keyresponse/runbook/events/jsutil"

	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultDuplicateWindow is how long JetStream remembers a Nats-Msg-Id. A
// day covers activity retries and worker restarts of any incident that is
// still running; past it, Store.Append's own key index (rebuilt from the
// subject) still turns a repeated fact into a no-op.
const DefaultDuplicateWindow = 24 * time.Hour

// StreamOptions tune the AUDIT stream. The zero value is the production setup.
type StreamOptions struct {
	Replicas        int           // 0 → 1
	DuplicateWindow time.Duration // 0 → DefaultDuplicateWindow
	// AllowRemoval turns DenyDelete/DenyPurge off. Only tests that play the
	// attacker (rewriting a subject to show Verify catches it) set it.
	AllowRemoval bool
}

// StreamConfig is the AUDIT stream's definition, and why:
//   - one subject per incident (audit.<token>): an incident's chain is
//     read with one filtered consumer and its tip with GetLastMsgForSubject,
//     and the publish expectation Nats-Expected-Last-Subject-Sequence
//     serialises writers per incident only;
//   - file storage with no age, size or count limit and Discard=New: the
//     trail is kept until an operator decides otherwise, and if someone adds
//     a limit the stream refuses new records instead of silently dropping the
//     oldest (a dropped first record would break every chain);
//   - DenyDelete and DenyPurge: records cannot be removed through the
//     JetStream API, and the server refuses to switch either off later
//     (no rollup either), so the only way to rewrite history is to edit the
//     store's files, which the hash chain exposes;
//   - a long duplicate window for the Nats-Msg-Id dedup of retried facts;
//   - direct get, so reading the tip of a chain is one cheap request.
func StreamConfig(o StreamOptions) jetstream.StreamConfig {
	replicas := max(o.Replicas, 1)
	window := o.DuplicateWindow
	if window == 0 {
		window = DefaultDuplicateWindow
	}
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "event-sourced incident audit trail: one hash-chained subject per incident",
		Subjects:    []string{SubjectPrefix + "*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxAge:      0,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Replicas:    replicas,
		Duplicates:  window,
		DenyDelete:  !o.AllowRemoval,
		DenyPurge:   !o.AllowRemoval,
		AllowDirect: true,
	}
}

// EnsureStream creates the AUDIT stream, or updates it to StreamConfig.
func EnsureStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	s, err := jsutil.EnsureStream(ctx, js, StreamConfig(o))
	if err != nil {
		return nil, fmt.Errorf("audit stream %s: %w", StreamName, err)
	}
	return s, nil
}
