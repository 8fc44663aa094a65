package ingest

import (
	"context"
	"errors"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// KVReplayGuard is a breach.ReplayGuard on a JetStream KV bucket, so seen
// ids survive consumer and server restarts and are shared by every consumer
// instance. The value is the stream sequence of the message that claimed
// the id: a redelivery of that same message is not a replay.
type KVReplayGuard struct {
	KV jetstream.KeyValue
}

// Claim implements breach.ReplayGuard.
func (g KVReplayGuard) Claim(ctx context.Context, key string, seq uint64) (bool, error) {
	val := []byte(strconv.FormatUint(seq, 10))
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
		return string(e.Value()) == string(val) && seq != 0, nil
	}
	return false, errors.New("replay guard: key kept changing")
}
