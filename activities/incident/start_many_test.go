package incident_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/activities/incident"
	"github.com/keyresponse/runbook/runbooks"
)

// fakeStarter is an engine in miniature: ids it has seen are running (or
// closed when listed), a start of a known id starts nothing.
type fakeStarter struct {
	mu       sync.Mutex
	running  map[string]bool
	closed   map[string]bool
	specs    map[string]incident.Spec
	calls    map[string]int
	failNext map[string]error // fails the next start of an id once
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	hold     time.Duration
}

func newFakeStarter() *fakeStarter {
	return &fakeStarter{running: map[string]bool{}, closed: map[string]bool{}, specs: map[string]incident.Spec{},
		calls: map[string]int{}, failNext: map[string]error{}}
}

func (f *fakeStarter) StartIncident(_ context.Context, s incident.Spec) (incident.Result, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if f.hold > 0 {
		time.Sleep(f.hold) // keeps starts overlapping so the bound is exercised
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[s.IncidentID]++
	if err, ok := f.failNext[s.IncidentID]; ok {
		delete(f.failNext, s.IncidentID)
		return incident.Result{}, err
	}
	switch {
	case f.closed[s.IncidentID]:
		return incident.Result{Closed: true}, nil
	case f.running[s.IncidentID]:
		return incident.Result{}, nil
	}
	f.running[s.IncidentID] = true
	f.specs[s.IncidentID] = s
	return incident.Result{Started: true}, nil
}

func registry(t *testing.T, s incident.Starter) *activities.Registry {
	t.Helper()
	reg, err := activities.NewRegistry(incident.Actions(incident.Deps{Starter: s})...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

const fleetID = "contain-fleet-breach::prod-binance"

func request(params map[string]any) runbooks.ActionRequest {
	return runbooks.ActionRequest{IncidentID: fleetID, Runbook: "contain-fleet-breach", StepID: "remediate",
		Action: "incident.start_many", Params: params}
}

func targets(n int) []any {
	var out []any
	for i := 1; i <= n; i++ {
		out = append(out, map[string]any{"bot": fmt.Sprintf("bot-%03d", i), "key_id": fmt.Sprintf("K%d", i)})
	}
	return out
}

func TestStartManyStartsOneIncidentPerBotUnderTheConsumersIDs(t *testing.T) {
	st := newFakeStarter()
	st.running["contain-key-breach:bot-003:K3"] = true // started by an earlier event
	st.closed["contain-key-breach:bot-004:K4"] = true  // handled last week
	reg := registry(t, st)
	ts := targets(5)
	ts[0].(map[string]any)["severity"] = "critical"
	ts[1].(map[string]any)["incident_id"] = "contain-key-breach:bot-002:K2:reserved"
	ts = append(ts, map[string]any{"bot": "bot-001", "key_id": "K1"}) // a repeat
	res, err := reg.Run(context.Background(), request(map[string]any{
		"runbook": "contain-key-breach", "targets": ts, "fleet": fleetID, "severity": "medium"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["started"] != 3 || res.Outputs["already_running"] != 1 || res.Outputs["closed"] != 1 || len(res.Outputs["failed"].([]any)) != 0 {
		t.Fatalf("outputs %v", res.Outputs)
	}
	want := map[string]map[string]any{
		"contain-key-breach:bot-001:K1":          {"bot": "bot-001", "key_id": "K1", "severity": "critical", "fleet": fleetID},
		"contain-key-breach:bot-002:K2:reserved": {"bot": "bot-002", "key_id": "K2", "severity": "medium", "fleet": fleetID},
		"contain-key-breach:bot-005:K5":          {"bot": "bot-005", "key_id": "K5", "severity": "medium", "fleet": fleetID},
	}
	if len(st.specs) != len(want) {
		t.Fatalf("started %v", st.specs)
	}
	for id, inputs := range want {
		s, ok := st.specs[id]
		if !ok || s.Runbook != "contain-key-breach" || s.StartedBy != "fleet:"+fleetID || fmt.Sprint(s.Inputs) != fmt.Sprint(inputs) {
			t.Errorf("%s: %+v", id, s)
		}
	}
	if st.calls["contain-key-breach:bot-001:K1"] != 1 {
		t.Error("a repeated target was started twice")
	}
}

// A retried or replayed step asks for the same ids and starts nothing new.
func TestStartManyIsIdempotent(t *testing.T) {
	st := newFakeStarter()
	reg := registry(t, st)
	params := map[string]any{"runbook": "contain-key-breach", "targets": targets(50), "fleet": fleetID, "concurrency": 8}
	first, err := reg.Run(context.Background(), request(params))
	if err != nil || first.Outputs["started"] != 50 {
		t.Fatalf("first: %v %v", first.Outputs, err)
	}
	again, err := reg.Run(context.Background(), request(params))
	if err != nil || again.Outputs["started"] != 0 || again.Outputs["already_running"] != 50 {
		t.Fatalf("again: %v %v", again.Outputs, err)
	}
	if len(st.running) != 50 {
		t.Fatalf("%d incidents exist, want 50", len(st.running))
	}
}

func TestStartManyBoundsConcurrency(t *testing.T) {
	st := newFakeStarter()
	st.hold = 2 * time.Millisecond
	reg := registry(t, st)
	res, err := reg.Run(context.Background(), request(map[string]any{
		"runbook": "contain-key-breach", "targets": targets(64), "fleet": fleetID, "concurrency": 5}))
	if err != nil || res.Outputs["started"] != 64 {
		t.Fatalf("%v %v", res.Outputs, err)
	}
	if m := st.maxSeen.Load(); m > 5 {
		t.Fatalf("%d starts in flight, concurrency is 5", m)
	}
}

// A start that fails fails the attempt retryably, naming the incident; the
// next attempt sees the first one's heartbeat, starts only what is left and
// still counts every incident it started.
func TestStartManyRetryResumesFromHeartbeat(t *testing.T) {
	st := newFakeStarter()
	st.failNext["contain-key-breach:bot-007:K7"] = errors.New("frontend unavailable")
	reg := registry(t, st)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	reg.RegisterWith(env)
	var last incident.StartProgress
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
		var p incident.StartProgress
		if d.Get(&p) == nil {
			last = p
		}
	})
	req := request(map[string]any{"runbook": "contain-key-breach", "targets": targets(10), "fleet": fleetID, "concurrency": 3})
	_, err := env.ExecuteActivity("incident.start_many", req)
	if activities.ErrorType(err) != incident.ErrFleetPartial || nonRetryable(err) || !strings.Contains(err.Error(), "contain-key-breach:bot-007:K7") {
		t.Fatalf("first attempt: %v", err)
	}
	if len(last.Done) != 9 {
		t.Fatalf("heartbeat holds %d incidents, want 9", len(last.Done))
	}

	retry := s.NewTestActivityEnvironment()
	reg.RegisterWith(retry)
	retry.SetHeartbeatDetails(last)
	val, err := retry.ExecuteActivity("incident.start_many", req)
	if err != nil {
		t.Fatal(err)
	}
	var res runbooks.ActionResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Outputs["started"] != float64(10) || res.Outputs["already_running"] != float64(0) {
		t.Fatalf("outputs %v: all 10 were started by this step", res.Outputs)
	}
	for id, n := range st.calls {
		want := 1
		if id == "contain-key-breach:bot-007:K7" {
			want = 2
		}
		if n != want {
			t.Errorf("%s started %d times, want %d", id, n, want)
		}
	}
}

func TestStartManyRefusals(t *testing.T) {
	st := newFakeStarter()
	st.failNext["contain-key-breach:bot-001:K1"] = activities.NonRetryable(activities.ErrInvalidParams, errors.New("no runbook contain-key-breach loaded"))
	_, err := registry(t, st).Run(context.Background(), request(map[string]any{"runbook": "contain-key-breach", "targets": targets(1), "fleet": fleetID}))
	if !nonRetryable(err) || activities.ErrorType(err) != incident.ErrFleetPartial {
		t.Errorf("a permanent start failure must not be retried: %v", err)
	}
	for name, c := range map[string]struct {
		starter incident.Starter
		params  map[string]any
	}{
		"no starter":      {nil, map[string]any{"runbook": "contain-key-breach", "targets": targets(1), "fleet": fleetID}},
		"itself":          {st, map[string]any{"runbook": "contain-fleet-breach", "targets": targets(1), "fleet": fleetID}},
		"no fleet":        {st, map[string]any{"runbook": "contain-key-breach", "targets": targets(1)}},
		"target sans bot": {st, map[string]any{"runbook": "contain-key-breach", "targets": []any{map[string]any{"key_id": "K"}}, "fleet": fleetID}},
		"unknown field":   {st, map[string]any{"runbook": "contain-key-breach", "targets": []any{map[string]any{"bot": "b", "colour": "red"}}, "fleet": fleetID}},
		"concurrency":     {st, map[string]any{"runbook": "contain-key-breach", "targets": targets(1), "fleet": fleetID, "concurrency": 1000}},
	} {
		_, err := registry(t, c.starter).Run(context.Background(), request(c.params))
		if activities.ErrorType(err) != activities.ErrInvalidParams || !nonRetryable(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if spec, _ := registry(t, nil).Action("incident.start_many"); spec.SideEffect != runbooks.Irreversible {
		t.Errorf("side effect %s", spec.SideEffect)
	}
}

func nonRetryable(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.NonRetryable()
}
