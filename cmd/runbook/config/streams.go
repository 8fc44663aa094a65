package config

import "sort"

// Streams bounds what breach events may cost: the disk the BREACH and
// BREACH_DLQ streams use and the bytes the trigger consumer prefetches.
// Zero (absent) fields take the engine's defaults (events/ingest:
// DefaultBreachMaxBytes 1 GiB, DefaultBreachMaxMsgs 1,000,000,
// DefaultDLQMaxBytes 256 MiB, DefaultDLQMaxMsgs 100,000,
// DefaultFetchBytes 8 MiB); a stream is never unlimited. See
// docs/operations.md, "Stream limits".
type Streams struct {
	BreachMaxBytes int64 `yaml:"breach_max_bytes,omitempty"`
	BreachMaxMsgs  int64 `yaml:"breach_max_msgs,omitempty"`
	DLQMaxBytes    int64 `yaml:"dlq_max_bytes,omitempty"`
	DLQMaxMsgs     int64 `yaml:"dlq_max_msgs,omitempty"`
	// FetchBytes bounds each pull request of the trigger consumer; at
	// least the stream's 512 KiB message cap (the worker refuses less).
	FetchBytes int `yaml:"fetch_bytes,omitempty"`
	// CapacityInterval is how often the worker reads the streams' fill for
	// the runbook_stream_* metrics (default 15s).
	CapacityInterval Duration `yaml:"capacity_interval,omitempty"`
}

// check reports negative limits: "unlimited" is not a choice.
func (s Streams) check() []Problem {
	var ps []Problem
	for field, v := range map[string]int64{"breach_max_bytes": s.BreachMaxBytes, "breach_max_msgs": s.BreachMaxMsgs,
		"dlq_max_bytes": s.DLQMaxBytes, "dlq_max_msgs": s.DLQMaxMsgs, "fetch_bytes": int64(s.FetchBytes), "capacity_interval": int64(s.CapacityInterval)} {
		if v < 0 {
			ps = append(ps, Problem{Field: "streams." + field, Message: "cannot be negative (leave it out for the default; streams are never unlimited)"})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Field < ps[j].Field })
	return ps
}
