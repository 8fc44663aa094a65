package main

import (
	"context"
	"os"

	"github.com/keyresponse/runbook/integrations/observability"
)

// setupTracing exports spans over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT
// is set (host:port); without it the trace context is still carried from
// the breach event into the workflow and its activities, just not exported.
func setupTracing(ctx context.Context, service string) func() {
	shutdown, err := observability.SetupTracing(ctx, observability.TracingOptions{
		Endpoint:    os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		Insecure:    os.Getenv("OTEL_EXPORTER_OTLP_INSECURE") == "true",
		ServiceName: service,
	})
	if err != nil {
		return func() {}
	}
	return func() { _ = shutdown(context.Background()) }
}
