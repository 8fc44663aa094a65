package main

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/workflows"
)

// Workflows and activities only `runbook bench` registers on its worker.
const (
	benchFloorWorkflow = "bench.floor"
	benchNoopActivity  = "bench.noop"
	benchGoWorkflow    = "bench.contain-go"
)

// benchHooks collects when the floor's no-op activity ran, by id.
type benchHooks struct {
	mu      sync.Mutex
	waiters map[string]chan time.Time
}

func newBenchHooks() *benchHooks { return &benchHooks{waiters: map[string]chan time.Time{}} }

func (h *benchHooks) register(w worker.Worker) {
	w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: benchFloorWorkflow})
	w.RegisterActivityWithOptions(h.noop, activity.RegisterOptions{Name: benchNoopActivity})
	w.RegisterWorkflowWithOptions(benchGoContain, workflow.RegisterOptions{Name: benchGoWorkflow})
}

// expect returns the channel the no-op activity of id reports on.
func (h *benchHooks) expect(id string) <-chan time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan time.Time, 1)
	h.waiters[id] = ch
	return ch
}

// noop is the floor's one activity: it only notes when it started running.
func (h *benchHooks) noop(ctx context.Context, id string) error {
	now := time.Now()
	h.mu.Lock()
	ch := h.waiters[id]
	delete(h.waiters, id)
	h.mu.Unlock()
	if ch != nil {
		ch <- now
	}
	return nil
}

// floorWorkflow is the floor: a workflow with one no-op activity.
func floorWorkflow(ctx workflow.Context, id string) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	return workflow.ExecuteActivity(ctx, benchNoopActivity, id).Get(ctx, nil)
}

// goContainInput is the hand-written workflow's input.
type goContainInput struct {
	IncidentID string `json:"incident_id"`
	Bot        string `json:"bot"`
	KeyID      string `json:"key_id"`
	Severity   string `json:"severity"`
}

// benchGoContain is contain-key-breach (host not suspect, severity not
// critical) written by hand: the same activities with the same parameters,
// timeouts and retry policies, the same local activities, the lockout
// group in parallel, but no
// expression evaluation, no step state, no audit facts and no queries. It
// is what the interpreter is compared with.
func benchGoContain(ctx workflow.Context, in goContainInput) error {
	type retry struct {
		attempts      int32
		initial, maxI time.Duration
		coeff         float64
	}
	// The runbook's first containment moves are local activities
	// (local: true); so are they here.
	localSteps := map[string]bool{"info": true, "restrict_leaked_key": true, "freeze": true, "cancel_orders": true}
	call := func(step, action string, timeout time.Duration, r retry, params map[string]any) workflow.Future {
		rp := &temporal.RetryPolicy{InitialInterval: r.initial, BackoffCoefficient: r.coeff,
			MaximumInterval: r.maxI, MaximumAttempts: r.attempts, NonRetryableErrorTypes: workflows.DefaultNonRetryable}
		req := runbooks.ActionRequest{IncidentID: in.IncidentID, Runbook: "contain-key-breach", StepID: step, Action: action, Params: params}
		if localSteps[step] {
			lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: timeout, RetryPolicy: rp})
			return workflow.ExecuteLocalActivity(lctx, action, req)
		}
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{ActivityID: step, StartToCloseTimeout: timeout, RetryPolicy: rp})
		return workflow.ExecuteActivity(actx, action, req)
	}
	get := func(f workflow.Future) (map[string]any, error) {
		var res runbooks.ActionResult
		err := f.Get(ctx, &res)
		return res.Outputs, err
	}
	fast := retry{30, 50 * time.Millisecond, 2 * time.Second, 1.5}
	slow := retry{30, 100 * time.Millisecond, 5 * time.Second, 1.5}
	botR := retry{10, 500 * time.Millisecond, 10 * time.Second, 2}
	one := retry{1, time.Second, time.Second, 2}

	info, err := get(call("info", "bot.info", 10*time.Second, retry{3, time.Second, 10 * time.Second, 2}, map[string]any{"bot": in.Bot}))
	if err != nil {
		return err
	}
	str := func(k string) string { s, _ := info[k].(string); return s }
	list := func(k string) []any { l, _ := info[k].([]any); return l }
	keyID := in.KeyID
	if keyID == "" {
		keyID = str("key_id")
	}
	ips := list("ips")
	lockout := call("restrict_leaked_key", "exchange.set_ip_whitelist", 10*time.Second, fast, map[string]any{
		"exchange": str("account"), "sub_account": str("sub_account"), "key_id": keyID,
		"ips": append(append([]any{}, ips...), list("engine_ips")...)})
	freeze := call("freeze", "bot.freeze", 30*time.Second, retry{10, 200 * time.Millisecond, 5 * time.Second, 2},
		map[string]any{"bot": in.Bot, "force_exit": false})
	cancel := call("cancel_orders", "exchange.cancel_orders", 15*time.Second, fast,
		map[string]any{"exchange": str("account"), "credential_ref": str("credential_ref")})
	page := call("page_oncall", "notify.sms", 5*time.Minute, one, map[string]any{"to": "oncall", "bot": in.Bot,
		"severity": in.Severity, "reply": "ack",
		"message": "Key breach on " + in.Bot + ": locking the key to the bot's IPs, freezing, cancelling orders."})
	if _, err := get(lockout); err != nil {
		return err
	}
	if _, err := get(freeze); err != nil {
		return err
	}
	_, _ = get(cancel) // on_failure: continue
	_, _ = get(page)
	nk, err := get(call("new_key", "exchange.create_key", 20*time.Second, slow, map[string]any{
		"exchange": str("account"), "sub_account": str("sub_account"), "ip_whitelist": ips, "secret_name": str("secret_name"),
		"label": "rb-ckb-" + workflow.GetInfo(ctx).WorkflowExecution.RunID}))
	if err != nil {
		return err
	}
	if _, err := get(call("deliver", "bot.deliver_key", 30*time.Second, botR, map[string]any{
		"bot": in.Bot, "exchange": str("exchange"), "key_id": nk["key_id"], "secret_ref": nk["secret_ref"]})); err != nil {
		return err
	}
	if _, err := get(call("revoke_old", "exchange.revoke_key", 10*time.Second, slow, map[string]any{
		"exchange": str("account"), "sub_account": str("sub_account"), "key_id": keyID})); err != nil {
		return err
	}
	verifyRef := ""
	if str("verify_from") != "" {
		verifyRef, _ = nk["secret_ref"].(string)
	}
	if _, err := get(call("verify", "exchange.verify_key", 30*time.Second, retry{10, 200 * time.Millisecond, 5 * time.Second, 2}, map[string]any{
		"exchange": str("account"), "sub_account": str("sub_account"), "credential_ref": verifyRef,
		"from_ip": str("verify_from"), "expect_ips": ips, "old_credential_ref": str("credential_ref"), "old_key_id": keyID})); err != nil {
		return err
	}
	if _, err := get(call("unfreeze", "bot.unfreeze", 30*time.Second, botR, map[string]any{"bot": in.Bot})); err != nil {
		return err
	}
	_, _ = get(call("summary", "notify.sms", 5*time.Minute, one, map[string]any{"to": "oncall", "bot": in.Bot,
		"severity": in.Severity, "reply": "none", "message": in.Bot + " contained (hand-written workflow)."}))
	return nil
}
