package observability

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	commonpb "go.temporal.io/api/common/v1"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"

	"github.com/keyresponse/runbook/events/breach"
)

// TracingOptions configure OpenTelemetry tracing.
type TracingOptions struct {
	// Endpoint is the OTLP/gRPC collector (host:port). Empty: no exporter,
	// spans are not recorded, the trace context is still propagated.
	Endpoint string
	// Insecure sends without TLS (a collector sidecar on localhost).
	Insecure bool
	// ServiceName is the service.name resource attribute (default "runbook").
	ServiceName string
	// SampleRatio of new traces recorded (parent-based); 0 means 1.
	SampleRatio float64
}

// propagator is W3C trace context + baggage, the format CloudEvents'
// distributed-tracing extension and Temporal's OpenTelemetry interceptor use.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// SetupTracing installs the global tracer provider and propagator. It
// returns a shutdown func that flushes pending spans (call it on exit).
func SetupTracing(ctx context.Context, o TracingOptions) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagator)
	if o.Endpoint == "" {
		// No exporter: spans still get ids so the trace context travels
		// from the event into the workflow (and into logs and audit), but
		// nothing is recorded or sent anywhere.
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
		otel.SetTracerProvider(tp)
		return tp.Shutdown, nil
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(o.Endpoint)}
	if o.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", o.Endpoint, err)
	}
	name := o.ServiceName
	if name == "" {
		name = "runbook"
	}
	ratio := o.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// CloudEvents distributed-tracing extension attributes.
const (
	ExtTraceParent = "traceparent"
	ExtTraceState  = "tracestate"
)

// InjectEvent puts ctx's trace context into the event as the CloudEvents
// traceparent/tracestate extensions. The signature covers every attribute
// but itself, so inject before breach.Sign: the consumer's verification
// then also vouches for the trace context.
func InjectEvent(ctx context.Context, e *breach.Event) {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	for _, k := range []string{ExtTraceParent, ExtTraceState} {
		if v := c.Get(k); v != "" {
			if e.Extensions == nil {
				e.Extensions = map[string]any{}
			}
			e.Extensions[k] = v
		}
	}
}

// EventContext returns ctx with the remote span the event carries (its
// traceparent extension) as parent, or ctx unchanged when it has none.
func EventContext(ctx context.Context, e *breach.Event) context.Context {
	c := propagation.MapCarrier{}
	for _, k := range []string{ExtTraceParent, ExtTraceState} {
		if v, ok := e.Extensions[k].(string); ok {
			c.Set(k, v)
		}
	}
	return propagation.TraceContext{}.Extract(ctx, c)
}

// InjectNATSHeader puts ctx's trace context into NATS message headers, for
// publishers that cannot change the (signed) event body.
func InjectNATSHeader(ctx context.Context, h nats.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// NATSHeaderContext extracts a trace context from NATS message headers.
func NATSHeaderContext(ctx context.Context, h nats.Header) context.Context {
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// TemporalHeaderKey is the Temporal header field the SDK's OpenTelemetry
// interceptor (go.temporal.io/sdk/contrib/opentelemetry) reads the parent
// span from.
const TemporalHeaderKey = "_tracer-data"

// TemporalHeader returns a Temporal header carrying ctx's trace context,
// for starts made through the raw WorkflowService (the trigger consumer's
// SignalWithStartWorkflowExecution): set it as the request's Header and
// the workflow's spans join the event's trace. Nil when ctx has no span.
func TemporalHeader(ctx context.Context) (*commonpb.Header, error) {
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	if c.Get(ExtTraceParent) == "" {
		return nil, nil
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]string(c))
	if err != nil {
		return nil, err
	}
	return &commonpb.Header{Fields: map[string]*commonpb.Payload{TemporalHeaderKey: p}}, nil
}

// TemporalTracingInterceptor is the SDK's OpenTelemetry interceptor on the
// global tracer provider and propagator: put it in client.Options.Interceptors
// of the worker's client and every workflow run and activity attempt gets a
// span, parented by the trace context in the start request's header.
func TemporalTracingInterceptor() (interceptor.Interceptor, error) {
	return temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            otel.Tracer("runbook/temporal"),
		TextMapPropagator: propagator,
	})
}
