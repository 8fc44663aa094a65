package ingest

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// KVReplayGuard is a breach.ReplayGuard on a JetStream KV bucket, so seen
// ids survive consumer and server restarts and are shared by every consumer
// instance. The value names the message that claimed the id
// (breach.Delivery.Message: stream and sequence): a redelivery of that same
// message is not a replay.
type KVReplayGuard struct {
	KV jetstream.KeyValue
}

// Claim implements breach.ReplayGuard.
func (g KVReplayGuard) Claim(ctx context.Context, key, msg string) (bool, error) {
	val := []byte(msg)
	for range 3 {
		_, err := g.KV.Create(ctx, key, val)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return false, err
		}
		e, err := g.KV.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired between Create and Get: claim again
		}
		if err != nil {
			return false, err
		}
		return string(e.Value()) == msg && msg != "", nil
	}
	return false, errors.New("replay guard: key kept changing")
}
