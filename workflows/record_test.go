package workflows

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

// TestRecordHistories runs representative incidents on a real Temporal
// server and writes their histories to testdata/histories for the replay
// test. It needs a running server, so it only runs when asked:
//
//	RECORD_HISTORIES=1 TEMPORAL_ADDRESS=127.0.0.1:7233 go test -run TestRecordHistories ./workflows/
//
// (TEMPORAL_NAMESPACE defaults to "default".) The actions are fakes
// registered under the real action names; the histories exercise the
// interpreter, not the integrations.
func TestRecordHistories(t *testing.T) {
	if os.Getenv("RECORD_HISTORIES") != "1" {
		t.Skip("set RECORD_HISTORIES=1 and TEMPORAL_ADDRESS to record replay histories against a running server")
	}
	addr := os.Getenv("TEMPORAL_ADDRESS")
	require.NotEmpty(t, addr, "TEMPORAL_ADDRESS is required with RECORD_HISTORIES=1")
	ns := os.Getenv("TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: ns})
	require.NoError(t, err)
	defer c.Close()

	queue := fmt.Sprintf("workflows-record-%d", time.Now().UnixNano())
	w := worker.New(c, queue, worker.Options{})
	// Histories recorded now are of workflow version "authz" 1: starts
	// are signed by the test roster's engine key, decisions by its
	// operators. They are written as authz-<scenario>.json beside the
	// histories recorded before authorization, which must keep replaying.
	ros := newRoster(t)
	Register(w, ros.live)
	w.RegisterActivityWithOptions(func(context.Context, AskApproversRequest) error { return nil },
		activity.RegisterOptions{Name: AskApproversActivity})
	registerRecordingActions(w)
	require.NoError(t, w.Start())
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	suffix := fmt.Sprint(time.Now().UnixNano())

	for _, sc := range recordScenarios(t, ros) {
		t.Run(sc.name, func(t *testing.T) {
			id := "record-" + sc.name + "-" + suffix
			in := sc.in
			in.IncidentID = id
			ros.register(in.Runbook.Name, StartStatement(in).Definition)
			if !sc.unsigned {
				in.Authorization = ros.startStatement(in, time.Now())
			}
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue}, IncidentWorkflowName, in)
			require.NoError(t, err)
			if sc.drive != nil {
				sc.drive(t, ctx, c, id)
			}
			var st IncidentState
			require.NoError(t, run.Get(ctx, &st))
			require.Equal(t, sc.want, st.Status, "error: %s", st.Error)
			require.NoError(t, RecordHistory(ctx, c, id, filepath.Join(historiesDir, "authz-"+sc.name+".json")))
		})
	}
}

type recordScenario struct {
	name     string
	in       IncidentInput
	drive    func(t *testing.T, ctx context.Context, c client.Client, id string)
	want     Status
	unsigned bool // start without a statement (refused)
}

func recordScenarios(t *testing.T, ros *roster) []recordScenario {
	approveWhenWaiting := func(name string, d Decision) func(*testing.T, context.Context, client.Client, string) {
		return func(t *testing.T, ctx context.Context, c client.Client, id string) {
			st := waitForStatus(t, ctx, c, id, StatusWaiting)
			// Sign as `runbook approve` does: for this run and the gate
			// that waits.
			desc, err := c.DescribeWorkflowExecution(ctx, id, "")
			require.NoError(t, err)
			stmt := authz.Statement{Verb: authz.Verb(name), Incident: id, Run: desc.WorkflowExecutionInfo.Execution.RunId,
				Comment: d.Comment, IssuedAt: time.Now()}
			if name != UpdateAbort {
				for _, s := range st.Steps {
					if s.Status == StatusWaiting && (d.Step == "" || s.ID == d.Step || s.ID == d.Step+holdSuffix) {
						stmt.Step = s.ID
					}
				}
			}
			d.Signed = ros.sign(d.Identity, stmt)
			h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
				WorkflowID: id, UpdateName: name, Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			require.NoError(t, err)
			require.NoError(t, h.Get(ctx, nil))
		}
	}
	quick := "\n    retry: {max_attempts: 3, initial_interval: 100ms}"
	hold := input(t, sequential)
	hold.HoldIrreversible, hold.HoldIrreversibleReason = true, "blast radius exceeded"
	return []recordScenario{
		{name: "sequential-parallel", want: StatusSucceeded, in: input(t, parallelRunbook)},
		{name: "retry-then-success", want: StatusSucceeded, in: input(t, `
name: rb
steps:
  - id: flaky
    action: test.flaky`+quick+`
  - id: skipped
    action: core.log
    when: steps.flaky.status != "succeeded"
`)},
		{name: "compensate", want: StatusFailed, in: input(t, `
name: rb
steps:
  - id: freeze
    action: bot.freeze
    with: {bot: "${{ inputs.bot }}"}
  - id: create
    action: exchange.create_key
    compensate: {action: exchange.delete_key, with: {key_id: "${{ outputs.key_id }}"}}
  - id: broken
    action: test.fail
    on_failure: compensate
`)},
		{name: "approve", want: StatusSucceeded, in: approvalInput(t, "abort"),
			drive: approveWhenWaiting(UpdateApprove, Decision{Identity: "alice", Comment: "go"})},
		{name: "deny-with-evidence", want: StatusDenied, in: approvalInput(t, "abort"),
			drive: func(t *testing.T, ctx context.Context, c client.Client, id string) {
				waitForStatus(t, ctx, c, id, StatusWaiting)
				require.NoError(t, c.SignalWorkflow(ctx, id, "", SignalEvidence, Evidence{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"}))
				approveWhenWaiting(UpdateDeny, Decision{Identity: "bob"})(t, ctx, c, id)
			}},
		{name: "approval-timeout-continue", want: StatusSucceeded, in: input(t, `
name: rb
steps:
  - id: gate
    approval: {group: security, timeout: 1s, on_timeout: continue}
  - id: freeze
    action: bot.freeze
`)},
		{name: "hold-irreversible", want: StatusSucceeded, in: hold,
			drive: func(t *testing.T, ctx context.Context, c client.Client, id string) {
				approveWhenWaiting(UpdateApprove, Decision{Step: "revoke", Identity: "carol"})(t, ctx, c, id)
				approveWhenWaiting(UpdateApprove, Decision{Step: "sms", Identity: "carol"})(t, ctx, c, id)
			}},
		{name: "abort", want: StatusAborted, in: approvalInput(t, "abort"),
			drive: approveWhenWaiting(UpdateAbort, Decision{Identity: "dave", Comment: "drill over"})},
		// Authorization: a start refused at its check, and a gate that
		// needs two different approvers.
		{name: "start-refused", want: StatusFailed, in: withAudit(approvalInput(t, "abort")), unsigned: true},
		{name: "require-two", want: StatusSucceeded, in: input(t, `
name: rb
steps:
  - id: gate
    approval: {group: security, require: 2}
  - id: freeze
    action: bot.freeze
`), drive: func(t *testing.T, ctx context.Context, c client.Client, id string) {
			approveWhenWaiting(UpdateApprove, Decision{Identity: "alice"})(t, ctx, c, id)
			approveWhenWaiting(UpdateApprove, Decision{Identity: "bob"})(t, ctx, c, id)
		}},
		// Audit on: the facts are local-activity markers in history.
		{name: "audit-deny-with-evidence", want: StatusDenied, in: withAudit(approvalInput(t, "abort")),
			drive: func(t *testing.T, ctx context.Context, c client.Client, id string) {
				waitForStatus(t, ctx, c, id, StatusWaiting)
				for _, ev := range []string{"evt-1", "evt-2", "evt-2"} { // the trigger again, then a redelivery
					require.NoError(t, c.SignalWorkflow(ctx, id, "", SignalEvidence, Evidence{EventID: ev, Subject: "breach.bot1.login_unknown_ip"}))
				}
				approveWhenWaiting(UpdateDeny, Decision{Identity: "bob", Comment: "false positive"})(t, ctx, c, id)
			}},
		// The evidence-batch signal next to a single one, with duplicates
		// across both, so later changes to either handler replay against it.
		{name: "audit-evidence-batch", want: StatusSucceeded, in: withAudit(approvalInput(t, "abort")),
			drive: func(t *testing.T, ctx context.Context, c client.Client, id string) {
				waitForStatus(t, ctx, c, id, StatusWaiting)
				require.NoError(t, c.SignalWorkflow(ctx, id, "", SignalEvidence, Evidence{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"}))
				require.NoError(t, c.SignalWorkflow(ctx, id, "", SignalEvidenceBatch, []Evidence{
					{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"},
					{EventID: "evt-3", Subject: "breach.bot1.withdrawal_attempt"},
					{Subject: "breach.bot1.no_id"},
				}))
				approveWhenWaiting(UpdateApprove, Decision{Identity: "alice"})(t, ctx, c, id)
			}},
	}
}

func withAudit(in IncidentInput) IncidentInput {
	in.Audit = true
	return in
}

// waitForStatus polls the state query until the incident reaches want (or
// the context ends): the only way to see a gate open from outside.
func waitForStatus(t *testing.T, ctx context.Context, c client.Client, id string, want Status) IncidentState {
	t.Helper()
	for {
		v, err := c.QueryWorkflow(ctx, id, "", QueryState)
		if err == nil {
			var st IncidentState
			require.NoError(t, v.Get(&st))
			if st.Status == want {
				return st
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("incident %s never reached %s", id, want)
			return IncidentState{}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// registerRecordingActions registers fake actions for the recorded scenarios.
func registerRecordingActions(w worker.ActivityRegistry) {
	okWith := func(outputs map[string]any) func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		return func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
			return runbooks.ActionResult{Outputs: outputs, Attempt: activity.GetInfo(ctx).Attempt, Summary: req.Action}, nil
		}
	}
	for _, name := range []string{"bot.freeze", "bot.unfreeze", "exchange.revoke_key", "exchange.cancel_orders", "exchange.delete_key", "notify.sms", "core.log"} {
		w.RegisterActivityWithOptions(okWith(map[string]any{"done": true}), activity.RegisterOptions{Name: name})
	}
	w.RegisterActivityWithOptions(okWith(map[string]any{"key_id": "AK-NEW", "secret_ref": "file:bot1"}), activity.RegisterOptions{Name: "exchange.create_key"})
	w.RegisterActivityWithOptions(func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		attempt := activity.GetInfo(ctx).Attempt
		if attempt == 1 {
			return runbooks.ActionResult{}, temporal.NewApplicationError("connection reset", "NetworkError")
		}
		return runbooks.ActionResult{Attempt: attempt}, nil
	}, activity.RegisterOptions{Name: "test.flaky"})
	w.RegisterActivityWithOptions(func(ctx context.Context, req runbooks.ActionRequest) (runbooks.ActionResult, error) {
		return runbooks.ActionResult{}, temporal.NewNonRetryableApplicationError("broken on purpose", "InvalidParams", nil)
	}, activity.RegisterOptions{Name: "test.fail"})
	w.RegisterActivityWithOptions(func(context.Context, AuditFact) error { return nil }, activity.RegisterOptions{Name: AuditActivityName})
	w.RegisterActivityWithOptions(func(context.Context, []AuditFact) error { return nil }, activity.RegisterOptions{Name: AuditBatchActivityName})
}
