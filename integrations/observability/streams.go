package observability

import (
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyresponse/runbook/events/ingest"
)

// StreamCollector exports the breach streams' fill (from the capacity
// watcher's last reading) and the count of publishes refused because BREACH
// was full, at scrape time. Register it where the watcher runs:
//
//	m.Registry().MustRegister(observability.StreamCollector(watcher.Usage, ingest.PublishRefused))
//
// A nil usage func exports only the refusals.
func StreamCollector(usage func() []ingest.StreamUsage, refused func() uint64) prometheus.Collector {
	return streamCollector{usage: usage, refused: refused}
}

type streamCollector struct {
	usage   func() []ingest.StreamUsage
	refused func() uint64
}

// Describe implements prometheus.Collector.
func (streamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStreamBytes, descStreamMaxBytes, descStreamMessages, descStreamMaxMessages,
		descStreamFill, descStreamAtLimit, descStreamDiscarded, descPublishRefused} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c streamCollector) Collect(ch chan<- prometheus.Metric) {
	if c.refused != nil {
		ch <- prometheus.MustNewConstMetric(descPublishRefused, prometheus.CounterValue, float64(c.refused()))
	}
	if c.usage == nil {
		return
	}
	for _, u := range c.usage() {
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{u.Stream}, labels...)...)
		}
		gauge(descStreamBytes, float64(u.Bytes))
		gauge(descStreamMaxBytes, float64(u.MaxBytes))
		gauge(descStreamMessages, float64(u.Msgs))
		gauge(descStreamMaxMessages, float64(u.MaxMsgs))
		gauge(descStreamFill, u.Fill)
		at := 0.0
		if u.AtLimit {
			at = 1
		}
		gauge(descStreamAtLimit, at, discardName(u))
		ch <- prometheus.MustNewConstMetric(descStreamDiscarded, prometheus.CounterValue, float64(u.Discarded), u.Stream)
	}
}

// discardName is the policy as the stream files spell it ("new", "old").
func discardName(u ingest.StreamUsage) string {
	if u.Discard == jetstream.DiscardNew {
		return "new"
	}
	return "old"
}
