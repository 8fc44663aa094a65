package ingest

import (
	"context"
	"encoding/json"
	"fmt"

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
	return js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(StreamBreach))
}
