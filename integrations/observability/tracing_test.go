package observability

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/events/breach"
)

// One trace from the monitor that publishes a breach event, through the
// signed event, into the workflow and its activity: the trace id the
// publisher started is the trace id of the workflow's and the activity's
// spans.
func TestTraceFromEventThroughWorkflow(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	if _, err := SetupTracing(context.Background(), TracingOptions{}); err != nil { // no endpoint: nothing exported
		t.Fatal(err)
	}
	otel.SetTracerProvider(tp) // record spans for the assertions below

	// Publisher: a span, injected into the event before signing.
	pubCtx, span := tp.Tracer("monitor").Start(context.Background(), "detect leak")
	traceID := span.SpanContext().TraceID()
	body, err := os.ReadFile("../../events/breach/testdata/example-event.json")
	if err != nil {
		t.Fatal(err)
	}
	const subject = "breach.grid-btc-01.key_leaked"
	ev, err := breach.Decode(subject, body)
	if err != nil {
		t.Fatal(err)
	}
	InjectEvent(pubCtx, &ev)
	span.End()
	kr := breach.Keyring{}
	if err := kr.Add("k1", []byte("trace-test-key-0123456789abcdef!")); err != nil {
		t.Fatal(err)
	}
	signed, err := breach.Sign(ev, kr, "k1")
	if err != nil {
		t.Fatal(err)
	}
	wire, err := json.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(wire), `"traceparent":"00-`+traceID.String()) {
		t.Fatalf("the event on the wire has no traceparent extension: %s", wire)
	}

	// Consumer: decode and verify (the signature covers the trace context),
	// then continue the trace and start the workflow with it in the header.
	got, err := breach.Decode(subject, wire)
	if err != nil {
		t.Fatal(err)
	}
	v := &breach.Verifier{Keys: kr}
	if err := v.Verify(context.Background(), got, breach.Delivery{Subject: subject, ArrivedAt: got.Time.Add(time.Second)}); err != nil {
		t.Fatalf("an event with a traceparent no longer verifies: %v", err)
	}
	consCtx := EventContext(context.Background(), &got)
	hdr, err := TemporalHeader(consCtx)
	if err != nil || hdr == nil {
		t.Fatalf("TemporalHeader: %v %v", hdr, err)
	}

	// Worker: the SDK's OpenTelemetry interceptor reads the header.
	ic, err := TemporalTracingInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{ic}})
	env.SetHeader(hdr)
	env.RegisterActivityWithOptions(func(context.Context) error { return nil }, activity.RegisterOptions{Name: "bot.freeze"})
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		return workflow.ExecuteActivity(ctx, "bot.freeze").Get(ctx, nil)
	}, workflow.RegisterOptions{Name: "incident"})
	env.ExecuteWorkflow("incident")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() == traceID {
			seen[s.Name()] = true
		}
	}
	for _, want := range []string{"detect leak", "RunWorkflow:incident", "RunActivity:bot.freeze"} {
		if !seen[want] {
			t.Errorf("span %q is not in the publisher's trace; spans in it: %v", want, seen)
		}
	}
}

func TestTemporalHeader_NoSpanNoHeader(t *testing.T) {
	h, err := TemporalHeader(context.Background())
	if err != nil || h != nil {
		t.Fatalf("header without a span = %v, %v; want nil", h, err)
	}
}
