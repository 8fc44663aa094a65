package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// ContentType of a structured-mode CloudEvent.
const ContentType = "application/cloudevents+json; charset=utf-8"

// Publish writes ev to the BREACH stream on breach.<bot>.<kind>. The
// Nats-Msg-Id header is the event id, so a publisher that retries after a
// lost ack does not store the event twice (within the stream's duplicate
// window). Sign the event first unless its subject is allowed unsigned.
func Publish(ctx context.Context, js jetstream.JetStream, ev breach.Event) (*jetstream.PubAck, error) {
	return PublishWithMsgID(ctx, js, ev, ev.ID)
}

// PublishWithMsgID is Publish with another Nats-Msg-Id than the event id:
// the Alertmanager bridge makes a fresh event id per publish and
// deduplicates retries by a key of its own (alertDedupKey).
func PublishWithMsgID(ctx context.Context, js jetstream.JetStream, ev breach.Event, msgID string) (*jetstream.PubAck, error) {
	return publish(ctx, js, ev, msgID, "")
}

// PublishAs is Publish for a named publisher connected with its lane
// account's credentials: the same subject, acked by its lane's stream.
func PublishAs(ctx context.Context, js jetstream.JetStream, ev breach.Event, publisher string) (*jetstream.PubAck, error) {
	if err := ValidPublisherName(publisher); err != nil {
		return nil, err
	}
	return publish(ctx, js, ev, ev.ID, publisher)
}

func publish(ctx context.Context, js jetstream.JetStream, ev breach.Event, msgID, publisher string) (*jetstream.PubAck, error) {
	if _, _, ok := breach.SplitSubject(ev.NATSSubject()); !ok {
		return nil, fmt.Errorf("publish: %q is not a valid breach subject (bot and kind must be [A-Za-z0-9_-])", ev.NATSSubject())
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	// Refuse locally what the consumer would dead-letter anyway.
	if _, err := breach.Decode(ev.NATSSubject(), body); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	msg := nats.NewMsg(ev.NATSSubject())
	msg.Data = body
	msg.Header.Set("Content-Type", ContentType)
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(LaneStream(publisher)))
	if isStreamFull(err) {
		publishRefused.Add(1)
		return nil, fmt.Errorf("%w: %w", ErrStreamFull, err)
	}
	return ack, err
}

// ErrStreamFull is a publish BREACH refused because it is at its MaxBytes or
// MaxMsgs (discard new): the event was not stored; retry later and page
// whoever runs NATS.
var ErrStreamFull = errors.New("publish refused: stream " + StreamBreach + " is full")

// publishRefused counts this process's publishes refused as ErrStreamFull
// (the Alertmanager bridge, runbook publish). Publishers outside the engine
// see their own refusals; the capacity watcher shows the stream at its limit.
var publishRefused atomic.Uint64

// PublishRefused is how many of this process's publishes were refused
// because BREACH was full.
func PublishRefused() uint64 { return publishRefused.Load() }

// isStreamFull recognises the server's answer to a publish over a
// DiscardNew stream's limits (JSStreamStoreFailedF with the store's
// "maximum bytes/messages exceeded").
func isStreamFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jsStreamStoreFailed {
		return false
	}
	return strings.Contains(apiErr.Description, "maximum bytes exceeded") || strings.Contains(apiErr.Description, "maximum messages exceeded")
}

// jsStreamStoreFailed is the server's JSStreamStoreFailedF error code.
const jsStreamStoreFailed jetstream.ErrorCode = 10077
