// Package jsutil holds JetStream helpers shared by the event packages.
package jsutil

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// EnsureStream creates the stream, or updates an existing one while keeping
// the replica count the operator chose: a worker starting against a
// 3-replica production stream must never scale it down to the code's
// default (deploy/nats/streams holds the production definitions).
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return js.CreateStream(ctx, cfg)
	case err != nil:
		return nil, err
	}
	existing := s.CachedInfo().Config
	if existing.Replicas > cfg.Replicas {
		cfg.Replicas = existing.Replicas
	}
	return js.UpdateStream(ctx, cfg)
}

// EnsureKeyValue opens the bucket if it exists (whatever its replicas) and
// creates it otherwise.
func EnsureKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return js.CreateKeyValue(ctx, cfg)
	}
	return kv, err
}
