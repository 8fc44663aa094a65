package ingest

import (
	"sync"

	"github.com/keyresponse/runbook/events/breach"
)

// Reasons the consumer adds to breach's decode/verify reasons.
const (
	ReasonNoMatch          breach.Reason = "no_match"          // no runbook trigger matched and Config.RequireMatch
	ReasonTrigger          breach.Reason = "trigger_error"     // a when/inputs/dedup template failed on this event
	ReasonStartFailed      breach.Reason = "start_failed"      // Starter kept failing until MaxDeliver
	ReasonRetriesExhausted breach.Reason = "retries_exhausted" // other transient errors, or the handler never finished
)

// Stats counts every outcome of the consumer. Each delivery ends in
// exactly one of: acked after start/signal (Started/Signalled/Closed
// counted per event and matched runbook: an incident started with a batch
// of N events counts 1 Started and N-1 Signalled), Unmatched,
// DeadLettered, or naked for redelivery (Retried). Field names map one-to-one onto future metrics.
type Stats struct {
	Received     uint64 // deliveries, redeliveries included
	Started      uint64 // new incidents
	Signalled    uint64 // evidence into running incidents
	Closed       uint64 // events for an incident id that already ran and ended (nothing started)
	Held         uint64 // new incidents started with HoldIrreversible
	Unmatched    uint64 // acked with no runbook match (RequireMatch off)
	Retried      uint64 // naked for redelivery
	Acked        uint64
	DeadLettered map[breach.Reason]uint64
	// Summarised counts dead letters written in a summary rather than
	// whole (they are in DeadLettered too); DLQSummaries the summaries.
	Summarised   uint64
	DLQSummaries uint64
	// Floods counts flood alerts (one per lane per cooldown).
	Floods uint64
	// Erased counts messages removed from the BREACH stream because they
	// carried a secret-looking field.
	Erased    uint64
	AckErrors uint64
	// Batches counts handled batches; Received/Batches is the mean batch.
	Batches uint64
	// StarterCalls counts Starter calls: one per incident per batch.
	StarterCalls uint64
	// FleetStarted counts fleet runbook incidents started for a mass
	// breach; FleetBots the per-bot incidents handed to a fleet start.
	FleetStarted uint64
	FleetBots    uint64
}

// DeadLetteredTotal sums DeadLettered.
func (s Stats) DeadLetteredTotal() uint64 {
	var n uint64
	for _, v := range s.DeadLettered {
		n += v
	}
	return n
}

type statsBox struct {
	mu sync.Mutex
	s  Stats
}

func (b *statsBox) add(f func(s *Stats)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.s.DeadLettered == nil {
		b.s.DeadLettered = map[breach.Reason]uint64{}
	}
	f(&b.s)
}

func (b *statsBox) snapshot() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.s
	out.DeadLettered = make(map[breach.Reason]uint64, len(b.s.DeadLettered))
	for k, v := range b.s.DeadLettered {
		out.DeadLettered[k] = v
	}
	return out
}
