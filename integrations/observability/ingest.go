package observability

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
)

// IngestCollector exports the trigger consumer's counters (ingest.Stats)
// at scrape time. The consumer keeps counting on its own; nothing here is
// on the event path. Register it once the consumer exists:
//
//	m.Registry().MustRegister(observability.IngestCollector(consumer.Stats))
//
// A nil stats func exports nothing (a worker without the consumer).
func IngestCollector(stats func() ingest.Stats) prometheus.Collector {
	return ingestCollector{stats: stats}
}

type ingestCollector struct{ stats func() ingest.Stats }

// Describe implements prometheus.Collector.
func (ingestCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEventsReceived, descEventsRejected, descEventsDeduplicated, descEventsStarted,
		descEventsClosed, descEventsHeld, descEventsUnmatched, descEventsRetried, descEventsErased, descEventsAckErrors} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c ingestCollector) Collect(ch chan<- prometheus.Metric) {
	if c.stats == nil {
		return
	}
	s := c.stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descEventsReceived, s.Received)
	counter(descEventsDeduplicated, s.Signalled)
	counter(descEventsStarted, s.Started)
	counter(descEventsClosed, s.Closed)
	counter(descEventsHeld, s.Held)
	counter(descEventsUnmatched, s.Unmatched)
	counter(descEventsRetried, s.Retried)
	counter(descEventsErased, s.Erased)
	counter(descEventsAckErrors, s.AckErrors)
	reasons := make([]string, 0, len(s.DeadLettered))
	for r := range s.DeadLettered {
		reasons = append(reasons, string(r))
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		counter(descEventsRejected, s.DeadLettered[breach.Reason(r)], r)
	}
}
