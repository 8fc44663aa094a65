package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/ingest"
)

// streamSettings are the resource bounds of the NATS side: stream limits,
// the consumer's prefetch in bytes and how often stream fill is read.
type streamSettings struct {
	storage          ingest.StorageLimits
	fetchBytes       int
	capacityInterval time.Duration
}

// streamSettingsFrom applies the config's streams section; a prefetch limit
// below the stream's message cap would stall the consumer on the first
// large message, so it is refused here, naming the setting.
func streamSettingsFrom(s config.Streams) (streamSettings, error) {
	if s.FetchBytes != 0 && s.FetchBytes < ingest.MaxMessageBytes {
		return streamSettings{}, fmt.Errorf("config streams.fetch_bytes: %d is below the BREACH message cap %d; the consumer could never fetch a maximum-size event", s.FetchBytes, ingest.MaxMessageBytes)
	}
	for field, v := range map[string]int64{"breach_max_bytes": s.BreachMaxBytes, "dlq_max_bytes": s.DLQMaxBytes} {
		if v != 0 && v < 4*ingest.MaxMessageBytes {
			return streamSettings{}, fmt.Errorf("config streams.%s: %d is below %d (four maximum-size messages)", field, v, 4*ingest.MaxMessageBytes)
		}
	}
	return streamSettings{
		storage: ingest.StorageLimits{BreachMaxBytes: s.BreachMaxBytes, BreachMaxMsgs: s.BreachMaxMsgs,
			DLQMaxBytes: s.DLQMaxBytes, DLQMaxMsgs: s.DLQMaxMsgs},
		fetchBytes:       s.FetchBytes,
		capacityInterval: s.CapacityInterval.D(),
	}, nil
}

// watchCapacity reads the breach streams' fill until the NATS side closes,
// for the runbook_stream_* metrics.
func (n *natsSide) watchCapacity(s streamSettings, lanes []ingest.Lane) {
	ctx, cancel := context.WithCancel(context.Background())
	streams := []string{ingest.StreamBreach, ingest.StreamDLQ}
	for _, l := range lanes {
		streams = append(streams, ingest.LaneStream(l.Publisher))
	}
	n.capacity = ingest.NewCapacityWatcher(n.js, s.capacityInterval, nil, streams...)
	n.stopCapacity = cancel
	go n.capacity.Run(ctx)
}
