package observability

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Every metric the engine exports is defined in this file (the Temporal
// SDK's own metrics come through TemporalMetricsHandler, named by the SDK).
// Label values are bounded sets: runbook names, action names, exchange
// account names, error kinds, dead-letter reasons. Never a bot id, an
// incident id or anything from an event's evidence.

const namespace = "runbook"

// Buckets. Containment is expected in well under a second when automatic
// and minutes when a human approves; a step is an API call (tens of ms)
// up to an approval wait folded into a retry (minutes).
var (
	containBuckets = []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	stepBuckets    = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
)

// Descriptors of the trigger consumer's counters, read from ingest.Stats
// by IngestCollector at scrape time.
var (
	descEventsReceived = prometheus.NewDesc(namespace+"_events_received_total",
		"Breach event deliveries to the trigger consumer, redeliveries included.", nil, nil)
	descEventsRejected = prometheus.NewDesc(namespace+"_events_rejected_total",
		"Breach events dead-lettered to BREACH_DLQ, by reason (bad signature, replay, schema, no match, ...).", []string{"reason"}, nil)
	descEventsDeduplicated = prometheus.NewDesc(namespace+"_events_deduplicated_total",
		"Breach events folded into an incident already running for the bot (signalled as evidence, no new incident).", nil, nil)
	descEventsStarted = prometheus.NewDesc(namespace+"_events_incidents_started_total",
		"Breach events that started a new incident.", nil, nil)
	descEventsClosed = prometheus.NewDesc(namespace+"_events_closed_incident_total",
		"Breach events for an incident id that already ran and ended (nothing started).", nil, nil)
	descEventsHeld = prometheus.NewDesc(namespace+"_events_held_total",
		"Incidents started with irreversible steps held for approval by the blast-radius limit.", nil, nil)
	descEventsUnmatched = prometheus.NewDesc(namespace+"_events_unmatched_total",
		"Breach events acked without a matching runbook.", nil, nil)
	descEventsRetried = prometheus.NewDesc(namespace+"_events_retried_total",
		"Breach event deliveries naked for redelivery after a transient failure.", nil, nil)
	descEventsErased = prometheus.NewDesc(namespace+"_events_erased_total",
		"Breach events erased from BREACH because they carried a secret-looking field.", nil, nil)
	descEventsAckErrors = prometheus.NewDesc(namespace+"_events_ack_errors_total",
		"Acks or naks the NATS server did not confirm.", nil, nil)
)

// Descriptors of the breach streams' fill against their limits, read from
// ingest.CapacityWatcher by StreamCollector at scrape time, and of this
// process's publishes refused because BREACH was full. Label values are the
// stream names BREACH and BREACH_DLQ.
var (
	descStreamBytes = prometheus.NewDesc(namespace+"_stream_bytes",
		"Bytes stored in a breach stream (BREACH, BREACH_DLQ).", []string{"stream"}, nil)
	descStreamMaxBytes = prometheus.NewDesc(namespace+"_stream_max_bytes",
		"The stream's MaxBytes limit (-1: unlimited).", []string{"stream"}, nil)
	descStreamMessages = prometheus.NewDesc(namespace+"_stream_messages",
		"Messages stored in a breach stream.", []string{"stream"}, nil)
	descStreamMaxMessages = prometheus.NewDesc(namespace+"_stream_max_messages",
		"The stream's MaxMsgs limit (-1: unlimited).", []string{"stream"}, nil)
	descStreamFill = prometheus.NewDesc(namespace+"_stream_fill_ratio",
		"The larger of bytes/MaxBytes and messages/MaxMsgs: at 1 BREACH refuses publishes (discard new) and BREACH_DLQ drops its oldest dead letters (discard old).", []string{"stream"}, nil)
	descStreamAtLimit = prometheus.NewDesc(namespace+"_stream_at_limit",
		"1 while the next maximum-size message would not fit the stream: it is refusing (discard new) or dropping (discard old).", []string{"stream", "discard"}, nil)
	descStreamDiscarded = prometheus.NewDesc(namespace+"_stream_discarded_total",
		"Messages a discard-old stream (BREACH_DLQ) dropped at its limit, counted by this process's watcher.", []string{"stream"}, nil)
	descPublishRefused = prometheus.NewDesc(namespace+"_breach_publish_refused_total",
		"Breach events this process (Alertmanager bridge, runbook publish) could not publish because BREACH was full.", nil, nil)
)

// Metrics holds the engine's own metrics. Create one per process with
// NewMetrics and pass it where events are observed.
type Metrics struct {
	reg *prometheus.Registry

	incidentsStarted *prometheus.CounterVec
	incidentsClosed  *prometheus.CounterVec
	timeToContain    *prometheus.HistogramVec

	stepDuration *prometheus.HistogramVec
	stepFailures *prometheus.CounterVec

	exchangeErrors      *prometheus.CounterVec
	exchangeRateLimited *prometheus.CounterVec

	smsSent   prometheus.Counter
	smsFailed *prometheus.CounterVec

	drills        *prometheus.CounterVec
	drillContain  *prometheus.HistogramVec
	drillRotation *prometheus.HistogramVec
	drillFindings *prometheus.CounterVec

	// The Temporal SDK's metrics (temporal.go), registered on first use.
	temporalOnce sync.Once
	temporal     *temporalSink
}

// NewMetrics creates the metrics in a fresh registry, together with the Go
// runtime and process collectors. Registry exposes it for the Temporal SDK
// handler and the /metrics endpoint.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		incidentsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "incidents_started_total",
			Help: "Incidents opened, by runbook and how they were started (event, manual, drill).",
		}, []string{"runbook", "trigger"}),
		incidentsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "incidents_closed_total",
			Help: "Incidents finished, by runbook and outcome (succeeded, failed, denied, aborted, compensated).",
		}, []string{"runbook", "outcome"}),
		timeToContain: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "incident_time_to_contain_seconds",
			Help:    "From the breach event (or the incident's opening when started by hand) to the first containment step (bot frozen, key revoked, key IP-restricted).",
			Buckets: containBuckets,
		}, []string{"runbook"}),
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "step_duration_seconds",
			Help:    "Duration of each action attempt, by action and outcome (success, failure); _count is the number of attempts.",
			Buckets: stepBuckets,
		}, []string{"action", "outcome"}),
		stepFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "step_failures_total",
			Help: "Failed action attempts, by action and error kind (RateLimited, AuthenticationError, ...).",
		}, []string{"action", "error_type"}),
		exchangeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "exchange_api_errors_total",
			Help: "Exchange API calls that failed, by exchange account and error kind.",
		}, []string{"exchange", "error_type"}),
		exchangeRateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "exchange_rate_limited_total",
			Help: "Exchange API calls refused by a rate limit (retried after Retry-After).",
		}, []string{"exchange"}),
		smsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "sms_sent_total",
			Help: "SMS messages accepted by the provider.",
		}),
		smsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sms_failed_total",
			Help: "SMS messages the provider refused or that could not be sent, by error kind.",
		}, []string{"error_type"}),
		drills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "drills_total",
			Help: "Drills run, by mode (rotate, rehearse) and result (passed, failed, skipped).",
		}, []string{"mode", "result"}),
		drillContain: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "drill_time_to_contain_seconds",
			Help:    "Rehearse drills: from the rehearsal's start to its first containment action.",
			Buckets: containBuckets,
		}, []string{"runbook"}),
		drillRotation: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "drill_rotation_duration_seconds",
			Help:    "Rotate drills: from creating the new key to revoking the old one.",
			Buckets: stepBuckets,
		}, []string{"runbook"}),
		drillFindings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "drill_findings_total",
			Help: "Key hygiene findings reported by drills, by finding.",
		}, []string{"finding"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.incidentsStarted, m.incidentsClosed, m.timeToContain,
		m.stepDuration, m.stepFailures,
		m.exchangeErrors, m.exchangeRateLimited,
		m.smsSent, m.smsFailed,
		m.drills, m.drillContain, m.drillRotation, m.drillFindings,
	)
	return m
}

// DrillFinished records a drill's result and, when measured, its time to
// contain (rehearse) or rotation duration (rotate).
func (m *Metrics) DrillFinished(mode, runbook, result string, timeToContain, rotation time.Duration) {
	m.drills.WithLabelValues(orUnknown(mode), orUnknown(result)).Inc()
	if timeToContain > 0 {
		m.drillContain.WithLabelValues(orUnknown(runbook)).Observe(timeToContain.Seconds())
	}
	if rotation > 0 {
		m.drillRotation.WithLabelValues(orUnknown(runbook)).Observe(rotation.Seconds())
	}
}

// DrillFinding counts one hygiene finding.
func (m *Metrics) DrillFinding(finding string) {
	m.drillFindings.WithLabelValues(orUnknown(finding)).Inc()
}

// Registry is where every metric of the process is registered; register
// extra collectors (IngestCollector) here.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// IncidentStarted counts an incident opened by runbook and trigger.
func (m *Metrics) IncidentStarted(runbook, trigger string) {
	m.incidentsStarted.WithLabelValues(runbook, orUnknown(trigger)).Inc()
}

// IncidentClosed counts a finished incident by outcome and, when it was
// contained, observes its time to contain.
func (m *Metrics) IncidentClosed(runbook, outcome string, timeToContain time.Duration, contained bool) {
	m.incidentsClosed.WithLabelValues(runbook, orUnknown(outcome)).Inc()
	if contained {
		m.timeToContain.WithLabelValues(runbook).Observe(timeToContain.Seconds())
	}
}

// StepFinished observes one action attempt. errorType is the activity
// error kind ("" for success).
func (m *Metrics) StepFinished(action string, d time.Duration, failed bool, errorType string) {
	outcome := "success"
	if failed {
		outcome = "failure"
		m.stepFailures.WithLabelValues(action, orUnknown(errorType)).Inc()
	}
	m.stepDuration.WithLabelValues(action, outcome).Observe(d.Seconds())
}

// ExchangeAPIError counts a failed exchange call by account and kind.
func (m *Metrics) ExchangeAPIError(exchange, errorType string) {
	m.exchangeErrors.WithLabelValues(orUnknown(exchange), orUnknown(errorType)).Inc()
}

// ExchangeRateLimited counts an exchange call refused by a rate limit.
func (m *Metrics) ExchangeRateLimited(exchange string) {
	m.exchangeRateLimited.WithLabelValues(orUnknown(exchange)).Inc()
}

// SMSSent counts a message the provider accepted.
func (m *Metrics) SMSSent() { m.smsSent.Inc() }

// SMSFailed counts a message that could not be sent.
func (m *Metrics) SMSFailed(errorType string) {
	m.smsFailed.WithLabelValues(orUnknown(errorType)).Inc()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
