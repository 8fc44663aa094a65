// Package observability is the engine's metrics, health endpoints,
// tracing and logging setup:
//
//   - metrics.go: every metric the engine exports (Prometheus,
//     client_golang), with one function per observation;
//   - hook.go: an activities.Hook recording each action attempt;
//   - incidents.go: incident counts, outcomes and time to contain from the
//     audit facts;
//   - ingest.go: the trigger consumer's counters (ingest.Stats) exported at
//     scrape time;
//   - temporal.go: a client.MetricsHandler putting the Temporal SDK's
//     metrics into the same registry;
//   - http.go: /metrics, /healthz and /readyz;
//   - tracing.go: OpenTelemetry setup (OTLP when an endpoint is
//     configured, otherwise no-op) and trace context in breach events and
//     Temporal headers;
//   - logging.go: slog setup, JSON in production, always redacted.
//
// Nothing here is called from workflow code.
package observability
