package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamUsage is one stream's fill against its limits, as the capacity
// watcher last read it from the server.
type StreamUsage struct {
	Stream   string
	Discard  jetstream.DiscardPolicy
	Bytes    uint64
	MaxBytes int64 // -1: unlimited
	Msgs     uint64
	MaxMsgs  int64 // -1: unlimited
	// Fill is the larger of Bytes/MaxBytes and Msgs/MaxMsgs (0 when both
	// are unlimited). At 1 a DiscardNew stream refuses publishes and a
	// DiscardOld stream drops its oldest messages.
	Fill float64
	// AtLimit is true when the next message of the stream's maximum size
	// would not fit: the stream is refusing (DiscardNew) or dropping
	// (DiscardOld) now.
	AtLimit bool
	// Discarded counts messages of a DiscardOld stream dropped at its
	// limit since the watcher started: the first sequence moved on while
	// the stream was at its limit (JetStream publishes no advisory for
	// limit discards, so this is read from the stream state; a message
	// that expired by age in the same poll interval is counted too).
	Discarded uint64
}

// CapacityWatcher reads the stream info of the breach streams at an
// interval, so a stream filling up is a metric and an alert before (and
// when) anything is refused or dropped. It is off the event path: one
// stream-info request per stream per interval.
type CapacityWatcher struct {
	js       jetstream.JetStream
	streams  []string
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	usage map[string]StreamUsage
	first map[string]uint64 // first sequence at the previous poll
}

// DefaultCapacityInterval is how often the watcher reads stream info.
const DefaultCapacityInterval = 15 * time.Second

// NewCapacityWatcher watches the given streams (default BREACH and
// BREACH_DLQ) every interval (default DefaultCapacityInterval).
func NewCapacityWatcher(js jetstream.JetStream, interval time.Duration, log *slog.Logger, streams ...string) *CapacityWatcher {
	if interval <= 0 {
		interval = DefaultCapacityInterval
	}
	if len(streams) == 0 {
		streams = []string{StreamBreach, StreamDLQ}
	}
	if log == nil {
		log = slog.Default()
	}
	return &CapacityWatcher{js: js, streams: streams, interval: interval, log: log.With("component", "stream-capacity"),
		usage: map[string]StreamUsage{}, first: map[string]uint64{}}
}

// Run polls until ctx ends.
func (w *CapacityWatcher) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		if err := w.Poll(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("stream info", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads every watched stream once.
func (w *CapacityWatcher) Poll(ctx context.Context) error {
	var errs []error
	for _, name := range w.streams {
		s, err := w.js.Stream(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		w.record(s.CachedInfo())
	}
	return errors.Join(errs...)
}

func (w *CapacityWatcher) record(info *jetstream.StreamInfo) {
	cfg, st := info.Config, info.State
	u := StreamUsage{Stream: cfg.Name, Discard: cfg.Discard, Bytes: st.Bytes, MaxBytes: cfg.MaxBytes, Msgs: st.Msgs, MaxMsgs: cfg.MaxMsgs}
	if cfg.MaxBytes > 0 {
		u.Fill = float64(st.Bytes) / float64(cfg.MaxBytes)
		msgSize := int64(cfg.MaxMsgSize)
		if msgSize <= 0 {
			msgSize = 1
		}
		u.AtLimit = int64(st.Bytes)+msgSize > cfg.MaxBytes
	}
	if cfg.MaxMsgs > 0 {
		u.Fill = max(u.Fill, float64(st.Msgs)/float64(cfg.MaxMsgs))
		u.AtLimit = u.AtLimit || int64(st.Msgs) >= cfg.MaxMsgs
	}
	// front is the sequence the stream's oldest message has or will have:
	// everything before it was removed.
	front := st.FirstSeq
	if st.Msgs == 0 {
		front = st.LastSeq + 1
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	prev, seen := w.first[cfg.Name]
	u.Discarded = w.usage[cfg.Name].Discarded
	// The first reading is the baseline: what was removed before this
	// process watched is not counted again at every restart.
	if seen && cfg.Discard == jetstream.DiscardOld && u.AtLimit && front > prev {
		u.Discarded += front - prev
	}
	w.first[cfg.Name] = front
	w.usage[cfg.Name] = u
}

// Usage returns the last reading of every stream, by name.
func (w *CapacityWatcher) Usage() []StreamUsage {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]StreamUsage, 0, len(w.usage))
	for _, u := range w.usage {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stream < out[j].Stream })
	return out
}
