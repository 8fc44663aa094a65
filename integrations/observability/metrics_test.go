package observability

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/audit/audittest"
	"github.com/keyresponse/runbook/events/breach"
	"github.com/keyresponse/runbook/events/ingest"
	"github.com/keyresponse/runbook/integrations/natsdev"
	"github.com/keyresponse/runbook/runbooks"
)

// fakeAction is an action whose result the test chooses.
type fakeAction struct {
	name string
	err  error
}

func (a fakeAction) Spec() runbooks.ActionSpec {
	return runbooks.ActionSpec{Name: a.name, SideEffect: runbooks.Reversible}
}

func (a fakeAction) Run(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
	return runbooks.ActionResult{Summary: "done"}, a.err
}

// scrape fetches url over HTTP and parses the Prometheus text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample finds the metric of family name whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func counterValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := sample(fams, name, labels)
	if m == nil || m.Counter == nil {
		t.Fatalf("no counter %s%v in the scrape", name, labels)
	}
	return m.Counter.GetValue()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// startNATS runs an embedded JetStream server with the AUDIT stream.
func startNATS(t *testing.T) jetstream.JetStream {
	t.Helper()
	s, err := natsdev.Start(natsdev.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.EnsureStream(context.Background(), js, audit.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return js
}

// TestMetricsEndpoint_OneIncident is what an operator sees after one
// incident: steps run through the real registry and Temporal activity
// wrapper with the hook added, the incident's audit facts go through a real
// AUDIT stream, and /metrics is scraped over HTTP.
func TestMetricsEndpoint_OneIncident(t *testing.T) {
	ctx := context.Background()
	m := NewMetrics()

	// Steps: a freeze, a revoke, a rate-limited cancel, an SMS.
	reg, err := activities.NewRegistry(
		fakeAction{name: "bot.freeze"},
		fakeAction{name: "exchange.revoke_key"},
		fakeAction{name: "exchange.cancel_orders", err: activities.RetryAfter(errors.New("429 too many requests"), time.Second)},
		fakeAction{name: "notify.sms"},
	)
	if err != nil {
		t.Fatal(err)
	}
	reg.AddHook(NewStepHook(m))
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	reg.RegisterWith(env)
	run := func(action string, params map[string]any) error {
		_, err := env.ExecuteActivity(action, runbooks.ActionRequest{IncidentID: "contain:bot-1", Runbook: "contain", StepID: action, Action: action, Params: params})
		return err
	}
	for _, a := range []string{"bot.freeze", "exchange.revoke_key", "notify.sms"} {
		if err := run(a, map[string]any{"exchange": "binance-main"}); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	if err := run("exchange.cancel_orders", map[string]any{"exchange": "binance-main"}); err == nil {
		t.Fatal("the rate-limited action succeeded")
	}

	// The incident's audit trail: opened from an event at t0, contained by
	// the freeze 300 ms later, closed.
	js := startNATS(t)
	store := audit.NewStore(js, audit.WithKeys(audittest.Keys()))
	obs := &IncidentObserver{Metrics: m, Load: func(ctx context.Context, id string) ([]audit.Record, error) { return audit.Load(ctx, js, id) }}
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	facts := []audit.Record{
		audit.Opened("contain:bot-1", audit.OpenedFacts{Runbook: "contain", RunbookHash: "sha256:x", Trigger: "event", TriggerEventID: "evt-1", EventTime: t0}),
		audit.StepFact("contain:bot-1", "freeze", audit.StepStarted, 1, false, map[string]string{"action": "bot.freeze"}),
		audit.StepFact("contain:bot-1", "freeze", audit.StepSucceeded, 1, false, map[string]string{"action": "bot.freeze"}),
		audit.Closed("contain:bot-1", "succeeded", ""),
	}
	for i, f := range facts {
		f.Run = "run-1"
		f.Time = t0.Add(100*time.Millisecond + time.Duration(i)*100*time.Millisecond)
		stored, err := store.Append(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		obs.Observe(ctx, stored)
	}

	// The Temporal SDK's own metrics: a real client whose one request
	// fails at once (nothing listens on the port) still counts it.
	c, err := client.NewLazyClient(client.Options{HostPort: closedPort(t), Namespace: "runbook", MetricsHandler: m.TemporalMetricsHandler()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "runbook"}); err == nil {
		t.Fatal("DescribeNamespace on a closed port succeeded")
	}

	m.Registry().MustRegister(IngestCollector(func() ingest.Stats {
		return ingest.Stats{Received: 5, Started: 1, Signalled: 2, DeadLettered: map[breach.Reason]uint64{"bad_signature": 2}}
	}))

	srv, err := Serve("127.0.0.1:0", Handler(m, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	fams := scrape(t, "http://"+srv.Addr()+"/metrics")

	if v := counterValue(t, fams, "runbook_incidents_started_total", map[string]string{"runbook": "contain", "trigger": "event"}); v != 1 {
		t.Errorf("incidents started = %v, want 1", v)
	}
	if v := counterValue(t, fams, "runbook_incidents_closed_total", map[string]string{"runbook": "contain", "outcome": "succeeded"}); v != 1 {
		t.Errorf("incidents closed = %v, want 1", v)
	}
	ttc := sample(fams, "runbook_incident_time_to_contain_seconds", map[string]string{"runbook": "contain"})
	if ttc == nil || ttc.Histogram.GetSampleCount() != 1 || math.Abs(ttc.Histogram.GetSampleSum()-0.3) > 1e-9 {
		t.Errorf("time to contain = %v, want one observation of 0.3 s (event → freeze succeeded)", ttc)
	}
	for _, a := range []string{"bot.freeze", "exchange.revoke_key", "notify.sms"} {
		s := sample(fams, "runbook_step_duration_seconds", map[string]string{"action": a, "outcome": "success"})
		if s == nil || s.Histogram.GetSampleCount() != 1 {
			t.Errorf("step count for %s = %v, want 1 success", a, s)
		}
	}
	if v := counterValue(t, fams, "runbook_step_failures_total", map[string]string{"action": "exchange.cancel_orders", "error_type": "RateLimited"}); v != 1 {
		t.Errorf("step failures = %v, want 1", v)
	}
	if v := counterValue(t, fams, "runbook_exchange_rate_limited_total", map[string]string{"exchange": "binance-main"}); v != 1 {
		t.Errorf("rate limited = %v, want 1", v)
	}
	if v := counterValue(t, fams, "runbook_sms_sent_total", nil); v != 1 {
		t.Errorf("sms sent = %v, want 1", v)
	}
	if v := counterValue(t, fams, "runbook_events_rejected_total", map[string]string{"reason": "bad_signature"}); v != 2 {
		t.Errorf("events rejected = %v, want 2", v)
	}
	if v := counterValue(t, fams, "runbook_events_deduplicated_total", nil); v != 2 {
		t.Errorf("events deduplicated = %v, want 2", v)
	}
	if v := counterValue(t, fams, "temporal_request_total", map[string]string{"operation": "DescribeNamespace", "namespace": "runbook"}); v != 1 {
		t.Errorf("Temporal SDK request counter = %v, want 1", v)
	}
	if v := counterValue(t, fams, "temporal_request_failure_total", map[string]string{"operation": "DescribeNamespace", "status_code": "UNAVAILABLE"}); v != 1 {
		t.Errorf("Temporal SDK request failure counter = %v, want 1", v)
	}
}

// closedPort is a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestHealthAndReadiness(t *testing.T) {
	ctx := context.Background()
	var down error = errors.New("nats: RECONNECTING")
	srv, err := Serve("127.0.0.1:0", Handler(NewMetrics(), AllReady(func(context.Context) error { return down })))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	base := "http://" + srv.Addr()
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "RECONNECTING") {
		t.Errorf("/readyz while NATS is down = %d %q, want 503 with the reason", code, body)
	}
	down = nil
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready = %d", code)
	}
	if _, err := Serve(srv.Addr(), Handler(NewMetrics(), nil)); err == nil {
		t.Error("a second server on the same port started: a port clash must be an error at start")
	}
}

// The Temporal handler keeps one series per tag set and turns timers into
// seconds histograms; the SDK may use one name with different tag keys.
func TestTemporalMetricsHandler(t *testing.T) {
	m := NewMetrics()
	h := m.TemporalMetricsHandler().WithTags(map[string]string{"namespace": "runbook", "task_queue": "runbook"})
	h.Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	h.Timer("temporal_request_latency").Record(250 * time.Millisecond)
	h.Gauge("temporal_num_pollers").Update(4)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	if n := len(byName["temporal_request_total"].GetMetric()); n != 2 {
		t.Errorf("temporal_request_total has %d series, want 2 (with and without operation)", n)
	}
	if s := sample(byName, "temporal_request_total", map[string]string{"operation": "StartWorkflowExecution"}); s == nil || s.Counter.GetValue() != 1 {
		t.Errorf("request counter with operation = %v", s)
	}
	if s := sample(byName, "temporal_request_latency_seconds", nil); s == nil || s.Histogram.GetSampleSum() != 0.25 {
		t.Errorf("latency histogram = %v, want 0.25 s", s)
	}
	if s := sample(byName, "temporal_num_pollers", map[string]string{"namespace": "runbook"}); s == nil || s.Gauge.GetValue() != 4 {
		t.Errorf("gauge = %v", s)
	}
}
