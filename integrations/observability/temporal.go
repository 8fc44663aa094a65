package observability

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// TemporalMetricsHandler exposes the Temporal SDK's metrics (requests,
// poll latencies, task schedule-to-start, activity execution latency,
// sticky cache, ...) through the same registry as the engine's own. Pass
// it as client.Options.MetricsHandler when dialling the worker's client.
//
// The SDK's contrib/tally and contrib/opentelemetry handlers would pull
// in tally's Prometheus reporter or the OpenTelemetry Prometheus exporter;
// the interface is four methods, so this adapter writes straight to
// client_golang. Names: SDK counters get "_total", timers become
// histograms in seconds with "_seconds" (temporal_request_latency_seconds).
// The SDK emits one name with different tag sets (e.g. with and without
// workflow_type), which client_golang allows only for unchecked
// collectors: each (name, tag keys) pair gets its own vector, all
// collected together.
func (m *Metrics) TemporalMetricsHandler() client.MetricsHandler {
	m.temporalOnce.Do(func() {
		m.temporal = &temporalSink{vecs: map[string]prometheus.Collector{}}
		m.reg.MustRegister(m.temporal)
	})
	return temporalHandler{sink: m.temporal}
}

// temporalBuckets: SDK timers run from sub-millisecond RPCs to minute-long
// long polls.
var temporalBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

type temporalSink struct {
	mu   sync.Mutex
	vecs map[string]prometheus.Collector // key: kind|name|sorted label names
}

// Describe sends nothing: the collector is unchecked because its metrics
// appear as the SDK first uses them.
func (*temporalSink) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (s *temporalSink) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	vecs := make([]prometheus.Collector, 0, len(s.vecs))
	for _, v := range s.vecs {
		vecs = append(vecs, v)
	}
	s.mu.Unlock()
	for _, v := range vecs {
		v.Collect(ch)
	}
}

// vec returns the vector for kind/name/label names, creating it once.
func (s *temporalSink) vec(kind, name string, labelNames []string) prometheus.Collector {
	key := kind + "|" + name + "|" + strings.Join(labelNames, ",")
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vecs[key]; ok {
		return v
	}
	help := "Temporal SDK metric " + name + "."
	var v prometheus.Collector
	switch kind {
	case "counter":
		v = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labelNames)
	case "gauge":
		v = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labelNames)
	default:
		v = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: temporalBuckets}, labelNames)
	}
	s.vecs[key] = v
	return v
}

type temporalHandler struct {
	sink *temporalSink
	tags map[string]string
}

// WithTags implements client.MetricsHandler: new tags override old ones.
func (h temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[sanitize(k)] = v
	}
	return temporalHandler{sink: h.sink, tags: merged}
}

func (h temporalHandler) labels() ([]string, []string) {
	names := make([]string, 0, len(h.tags))
	for k := range h.tags {
		names = append(names, k)
	}
	sort.Strings(names)
	values := make([]string, len(names))
	for i, k := range names {
		values[i] = h.tags[k]
	}
	return names, values
}

// Counter implements client.MetricsHandler.
func (h temporalHandler) Counter(name string) client.MetricsCounter {
	names, values := h.labels()
	c := h.sink.vec("counter", withSuffix(sanitize(name), "_total"), names).(*prometheus.CounterVec).WithLabelValues(values...)
	return counterFunc(func(d int64) {
		if d > 0 {
			c.Add(float64(d))
		}
	})
}

// Gauge implements client.MetricsHandler.
func (h temporalHandler) Gauge(name string) client.MetricsGauge {
	names, values := h.labels()
	g := h.sink.vec("gauge", sanitize(name), names).(*prometheus.GaugeVec).WithLabelValues(values...)
	return gaugeFunc(g.Set)
}

// Timer implements client.MetricsHandler.
func (h temporalHandler) Timer(name string) client.MetricsTimer {
	names, values := h.labels()
	o := h.sink.vec("timer", withSuffix(sanitize(name), "_seconds"), names).(*prometheus.HistogramVec).WithLabelValues(values...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

func withSuffix(name, suffix string) string {
	if strings.HasSuffix(name, suffix) {
		return name
	}
	return name + suffix
}

// sanitize maps a name onto Prometheus's [a-zA-Z_][a-zA-Z0-9_]*.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
