package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/activity"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
)

var quietLogger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

// fakeAction is an action whose behaviour the test scripts.
type fakeAction struct {
	name string
	run  func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error)
}

func (f fakeAction) Spec() runbooks.ActionSpec {
	return runbooks.ActionSpec{Name: f.name, SideEffect: runbooks.Irreversible}
}
func (f fakeAction) Run(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
	return f.run(ctx, req)
}

const leakedKeyID = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A" // Binance-shaped key id

func hookActions() []activities.Action {
	ok := func(res runbooks.ActionResult) func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		return func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) { return res, nil }
	}
	return []activities.Action{
		fakeAction{"bot.freeze", ok(runbooks.ActionResult{Summary: "froze bot-1"})},
		fakeAction{"exchange.revoke_key", ok(runbooks.ActionResult{Summary: "revoked key",
			Outputs: map[string]any{"exchange": "binance", "key_id": leakedKeyID, "fingerprint": "sha256:5e1f"}})},
		fakeAction{"notify.sms", ok(runbooks.ActionResult{Outputs: map[string]any{"to": "+4917012345678", "message_sid": "SM0123456789abcdef0123456789abcdef"}})},
		fakeAction{"exchange.cancel_orders", func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
			if activity.GetInfo(ctx).Attempt == 1 {
				return runbooks.ActionResult{}, activities.Retryable(activities.ErrNetwork, errors.New("connection reset"))
			}
			return runbooks.ActionResult{Summary: "cancelled 3 orders"}, nil
		}},
		fakeAction{"bot.unfreeze", ok(runbooks.ActionResult{Summary: "unfroze bot-1"})},
	}
}

// runSteps is a test workflow: it runs each request as its action's
// activity, retrying quickly, like the interpreter does.
func runSteps(ctx workflow.Context, reqs []runbooks.ActionRequest) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Millisecond, MaximumAttempts: 3},
	})
	for _, r := range reqs {
		var res runbooks.ActionResult
		if err := workflow.ExecuteActivity(ctx, r.Action, r).Get(ctx, &res); err != nil {
			return err
		}
	}
	return nil
}

func TestHookRecordsStepFactsFromActivities(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	store := NewStore(js, WithKeys(testKeys))
	hook := NewHook(store)
	reg, err := activities.NewRegistry(hookActions()...)
	if err != nil {
		t.Fatal(err)
	}
	reg.AddHook(hook)
	req := func(step, action string, comp bool) runbooks.ActionRequest {
		return runbooks.ActionRequest{IncidentID: incident, Runbook: "contain-key-breach", StepID: step, Action: action,
			Params: map[string]any{"bot": "bot-1"}, Compensation: comp}
	}
	reqs := []runbooks.ActionRequest{
		req("freeze", "bot.freeze", false),
		req("revoke", "exchange.revoke_key", false),
		req("cancel", "exchange.cancel_orders", false),
		req("page", "notify.sms", false),
		req("freeze", "bot.unfreeze", true),
	}
	run := func() {
		var ts testsuite.WorkflowTestSuite
		ts.SetLogger(quietLogger)
		env := ts.NewTestWorkflowEnvironment()
		reg.RegisterWith(env)
		env.RegisterWorkflow(runSteps)
		env.ExecuteWorkflow(runSteps, reqs)
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
	}
	run()
	recs := mustLoad(t, js, incident)
	if err := Verify(recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Run == "" {
			t.Fatalf("record #%d has no workflow run id", r.Seq)
		}
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %s a%s", r.Step, r.Kind, r.Attr("attempt")))
	}
	want := []string{
		"freeze step.started a1", "freeze step.succeeded a1",
		"revoke step.started a1", "revoke step.succeeded a1", "revoke key.changed a",
		"cancel step.started a1", "cancel step.failed a1", "cancel step.retried a2", "cancel step.succeeded a2",
		"page step.started a1", "page step.succeeded a1", "page notification.sent a",
		"freeze step.started a1", "freeze step.compensated a1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	byKind := func(k Kind) Record {
		for _, r := range recs {
			if r.Kind == k {
				return r
			}
		}
		t.Fatalf("no %s record", k)
		return Record{}
	}
	kc := byKind(KeyChanged)
	if kc.Attr("change") != "revoked" || kc.Attr("exchange") != "binance" || kc.Attr("fingerprint") != "sha256:5e1f" {
		t.Fatalf("key.changed attrs = %v", kc.Attrs)
	}
	if kc.Attr("key_id") != "vmPU…Eh8A" {
		t.Fatalf("key id stored as %q, want it masked", kc.Attr("key_id"))
	}
	f := byKind(StepFailed)
	if f.Attr("error_type") != activities.ErrNetwork || f.Attr("retryable") != "true" || !strings.Contains(f.Attr("error"), "connection reset") {
		t.Fatalf("step.failed attrs = %v", f.Attrs)
	}
	if n := byKind(NotificationSent); n.Attr("channel") != "sms" || n.Attr("to") != "+491…5678" {
		t.Fatalf("notification attrs = %v", n.Attrs)
	}

	// The same activities again (a replayed or re-delivered run): the same
	// facts, so nothing new is stored.
	run()
	if again := mustLoad(t, js, incident); len(again) != len(recs) {
		t.Fatalf("re-run stored %d records, want %d", len(again), len(recs))
	}
	if hook.Failures() != 0 {
		t.Fatalf("hook failed %d times", hook.Failures())
	}

	v := Project(recs)
	if v.ContainedBy != "freeze (bot.freeze)" {
		t.Fatalf("contained by %q", v.ContainedBy)
	}
	for _, s := range v.Steps {
		if s.ID == "cancel" && (s.Status != StatusSucceeded || s.Attempts != 2) {
			t.Fatalf("cancel step = %+v", s)
		}
		if s.ID == "freeze" && !s.Compensated {
			t.Fatalf("freeze step not marked compensated: %+v", s)
		}
	}
}

func TestHookCountsFailuresWithoutFailingTheAction(t *testing.T) {
	n, js := setup(t, StreamOptions{})
	hook := NewHook(NewStore(js, WithKeys(testKeys)))
	hook.Timeout = 500 * time.Millisecond
	hook.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	n.srv.Shutdown() // NATS is gone: the audit write fails, the action must not
	reg, err := activities.NewRegistry(hookActions()...)
	if err != nil {
		t.Fatal(err)
	}
	reg.AddHook(hook)
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	env := ts.NewTestActivityEnvironment()
	reg.RegisterWith(env)
	if _, err := env.ExecuteActivity("bot.freeze", runbooks.ActionRequest{IncidentID: incident, StepID: "freeze", Action: "bot.freeze"}); err != nil {
		t.Fatalf("action failed because auditing failed: %v", err)
	}
	if hook.Failures() != 2 {
		t.Fatalf("Failures = %d, want 2 (started and succeeded)", hook.Failures())
	}
}

func TestRecordActivity(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	ra := &RecordActivity{Store: NewStore(js, WithKeys(testKeys))}
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(ra.Record, activity.RegisterOptions{Name: RecordActivityName})

	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	rec := ApprovalDecided(incident, "gate", "alice@oncall", "looks right", true)
	rec.Time = at
	for range 2 { // a retried activity
		if _, err := env.ExecuteActivity(RecordActivityName, rec); err != nil {
			t.Fatal(err)
		}
	}
	recs := mustLoad(t, js, incident)
	if len(recs) != 1 || recs[0].Actor != "alice@oncall" || !recs[0].Time.Equal(at) {
		t.Fatalf("records = %+v", recs)
	}
	_, err := env.ExecuteActivity(RecordActivityName, Record{IncidentID: incident, Kind: "nonsense", Key: "k"})
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != activities.ErrInvalidParams {
		t.Fatalf("bad record: err = %v, want a non-retryable InvalidParams error", err)
	}
}

// Given a worker whose connection to NATS goes dead while an action runs
// (requests written into it are never answered: what a client sees when
// its server dies mid-request),
// When the connection drops a moment later and the client reconnects,
// Then the action's started and succeeded records are both in the trail:
// the hook gave up on the lost request and tried again, within its budget.
func TestHookWritesThroughALostRequest(t *testing.T) {
	n := startNATS(t)
	px := newBlackholeProxy(t, n.srv.Addr().String())
	nc, err := nats.Connect("nats://"+px.addr(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureStream(context.Background(), js, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	hook := NewHook(NewStore(js, WithKeys(testKeys)))
	hook.Timeout, hook.TryTimeout = 4*time.Second, 300*time.Millisecond
	hook.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := activities.NewRegistry(hookActions()...)
	if err != nil {
		t.Fatal(err)
	}
	reg.AddHook(hook)

	px.blackhole(true)
	go func() {
		time.Sleep(time.Second)
		px.blackhole(false)
		px.dropAll() // the client notices, reconnects through the proxy
	}()
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	env := ts.NewTestActivityEnvironment()
	reg.RegisterWith(env)
	if _, err := env.ExecuteActivity("bot.freeze", runbooks.ActionRequest{IncidentID: incident, StepID: "freeze", Action: "bot.freeze"}); err != nil {
		t.Fatal(err)
	}
	if hook.Failures() != 0 {
		t.Fatalf("Failures = %d, want 0: the records should have been written after the reconnect", hook.Failures())
	}
	recs, err := Load(context.Background(), n.connect(t), incident)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []Kind
	for _, r := range recs {
		kinds = append(kinds, r.Kind)
	}
	if len(kinds) != 2 || kinds[0] != StepStarted || kinds[1] != StepSucceeded {
		t.Fatalf("records %v, want [step.started step.succeeded]", kinds)
	}
	if err := Verify(recs); err != nil {
		t.Fatal(err)
	}
}

// blackholeProxy forwards TCP to a NATS server; while black-holed it
// swallows what the client sends (the client's writes succeed, nothing
// reaches the server, nothing comes back).
type blackholeProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	hole   bool
	conns  []net.Conn
}

func newBlackholeProxy(t *testing.T, target string) *blackholeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.dropAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go p.pipe(s, c, false)
			go p.pipe(c, s, true)
		}
	}()
	return p
}

func (p *blackholeProxy) addr() string { return p.ln.Addr().String() }

func (p *blackholeProxy) blackhole(on bool) {
	p.mu.Lock()
	p.hole = on
	p.mu.Unlock()
}

func (p *blackholeProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// pipe copies src to dst; client-to-server bytes are dropped while
// black-holed.
func (p *blackholeProxy) pipe(dst, src net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := fromClient && p.hole
			p.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}
