package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
)

const drillRunbook = `
name: rotate-keys
inputs:
  - {name: bot, type: string, required: true}
steps:
  - {id: info, action: bot.info, with: {bot: "${{ inputs.bot }}"}}
  - {id: new_key, action: exchange.create_key, with: {exchange: "${{ steps.info.outputs.account }}"}}
  - {id: revoke_old, action: exchange.revoke_key, with: {key_id: "${{ steps.info.outputs.key_id }}"}, retry: {max_attempts: 1}}
`

// drillHarness runs DrillWorkflow with the real interpreter as its child
// and fake actions, drill activities and audit store.
type drillHarness struct {
	*harness
	open    []string
	mu      sync.Mutex
	facts   []AuditFact
	prepare []RehearsalRequest
	starts  []DrillSignStartRequest
	signed  []authz.Signed
}

func newDrillHarness(t *testing.T) *drillHarness {
	h := &drillHarness{harness: newHarness(t)}
	RegisterDrill(h.env, h.live)
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req DrillSignStartRequest) (authz.Signed, error) {
		sg, err := h.signEngineStart(req)
		h.mu.Lock()
		h.starts, h.signed = append(h.starts, req), append(h.signed, sg)
		h.mu.Unlock()
		return sg, err
	}, activity.RegisterOptions{Name: DrillSignStartActivity})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req OpenIncidentsRequest) ([]string, error) {
		return h.open, nil
	}, activity.RegisterOptions{Name: DrillOpenIncidentsActivity})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req RehearsalRequest) (Rehearsal, error) {
		h.mu.Lock()
		h.prepare = append(h.prepare, req)
		h.mu.Unlock()
		return Rehearsal{Bot: RehearsalBotID(req.Bot), MirrorKeyID: "MIRROR", Permissions: "read,trade,withdraw", Source: "exchange"}, nil
	}, activity.RegisterOptions{Name: DrillPrepareRehearsalActivity})
	recordFact := func(ctx context.Context, f AuditFact) error {
		h.mu.Lock()
		h.facts = append(h.facts, f)
		h.mu.Unlock()
		return nil
	}
	h.env.RegisterActivityWithOptions(recordFact, activity.RegisterOptions{Name: AuditActivityName})
	registerAuditBatch(h.env, recordFact)
	h.ok("bot.info", map[string]any{"account": "binance", "sub_account": "bot-1@x", "key_id": "K1", "ips": []any{"10.0.0.1"}})
	h.ok("exchange.audit_keys", map[string]any{"keys": []any{
		map[string]any{"id": "K1", "permissions": "read,trade,withdraw", "findings": []any{"withdraw_enabled", "no_ip_whitelist"}},
		map[string]any{"id": "K2", "label": "old-manual", "permissions": "read", "findings": []any{}},
	}})
	h.ok("exchange.create_key", map[string]any{"key_id": "K3"})
	h.ok("notify.sms", map[string]any{"sid": "SM1"})
	return h
}

// drillInput is a drill of bot-1 as `drill schedule` builds it, with
// root's (admin) drill.schedule statement; its runbook is registered.
func (h *drillHarness) drillInput(mode string) DrillInput {
	h.t.Helper()
	child := input(h.t, drillRunbook)
	child.Inputs = map[string]any{"bot": "bot-1"}
	child.Audit = false
	h.register(child.Runbook.Name, StartStatement(child).Definition)
	in := DrillInput{ScheduleID: "drill:rotate-keys:bot-1", Bot: "bot-1", Mode: mode, Child: child}
	in.Authorization = h.signSchedule("root", in, time.Hour)
	return in
}

func (h *drillHarness) runDrill(mode string) DrillResult {
	h.t.Helper()
	return h.runDrillInput(h.drillInput(mode))
}

func (h *drillHarness) runDrillInput(in DrillInput) DrillResult {
	h.t.Helper()
	h.env.ExecuteWorkflow(DrillWorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res DrillResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

func (h *drillHarness) kinds() map[string][]AuditFact {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string][]AuditFact{}
	for _, f := range h.facts {
		out[f.Kind] = append(out[f.Kind], f)
	}
	return out
}

// Given a bot whose key can withdraw and has no whitelist, and a second
// key on its sub-account that it does not use,
// When a rotate drill runs and the rotation succeeds,
// Then the drill passes, every finding is in the result and in the audit
// trail, and nobody is texted about the drill.
func TestDrillPassRecordsFindings(t *testing.T) {
	h := newDrillHarness(t)
	h.ok("exchange.revoke_key", nil)
	res := h.runDrill(DrillModeRotate)
	require.Equal(t, DrillPassed, res.Result, res.Reason)
	require.Equal(t, "rotate-keys:bot-1", res.Child)
	require.Equal(t, StatusSucceeded, res.ChildStatus)
	got := map[string]bool{}
	for _, f := range res.Findings {
		got[f.KeyID+"/"+f.Finding] = true
	}
	require.Equal(t, map[string]bool{"K1/withdraw_enabled": true, "K1/no_ip_whitelist": true, "K2/not_in_use": true}, got)
	k := h.kinds()
	require.Len(t, k[AuditDrillFinding], 3)
	require.Len(t, k[AuditDrillResult], 1)
	require.Equal(t, "passed", k[AuditDrillResult][0].Attrs["result"])
	require.Empty(t, h.requests("notify.sms"))
	require.Len(t, h.requests("exchange.revoke_key"), 1, "K2 is reported, not revoked, unless revoke_unused")
	require.NotNil(t, res.AuthorizedBy)
	require.Equal(t, "root", res.AuthorizedBy.Operator)
	require.Equal(t, "root", k[AuditDrillResult][0].Attrs["authorized_by"])
}

// Given a drill whose schedule carries root's statement,
// When it starts its child incident,
// Then the child's start is an engine-signed exec statement (trigger
// drill) for exactly the child's id, runbook and inputs, which the roster
// accepts.
func TestDrillChildStartIsEngineSigned(t *testing.T) {
	h := newDrillHarness(t)
	h.ok("exchange.revoke_key", nil)
	res := h.runDrill(DrillModeRotate)
	require.Equal(t, DrillPassed, res.Result, res.Reason)
	require.Len(t, h.starts, 1)
	child := input(t, drillRunbook)
	want := DrillSignStartRequest{Drill: res.DrillID, Incident: "rotate-keys:bot-1", Runbook: "rotate-keys", RunbookHash: "sha256:test",
		Definition: StartStatement(child).Definition, Inputs: authz.StartHash(map[string]any{"bot": "bot-1"}, child.Event),
		Options: h.starts[0].Options}
	require.Equal(t, want, h.starts[0])
	v, err := h.live.Authorize(authz.Request{Verb: authz.VerbExec, Incident: want.Incident, Runbook: want.Runbook,
		RunbookHash: want.RunbookHash, Definition: want.Definition, Inputs: want.Inputs, Options: want.Options, Trigger: "drill", Now: h.env.Now(), Signed: &h.signed[0]})
	require.NoError(t, err)
	require.Equal(t, authz.EngineName, v.Operator)
}

// Given a schedule created straight through Temporal's API, without the
// controller (no statement), or with a statement of an operator without
// the drill permission, or with root's statement for other inputs, another
// definition or another schedule, When its run starts,
// Then the drill fails "refused: …" and says why in its result and audit
// trail, having checked no key and started no child.
func TestDrillRefusedAtStart(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(h *drillHarness, in *DrillInput)
		want string
	}{
		"unsigned": {func(h *drillHarness, in *DrillInput) { in.Authorization = nil }, "not signed"},
		"no drill permission": {func(h *drillHarness, in *DrillInput) {
			in.Authorization = h.signSchedule("dave", *in, time.Hour)
		}, "may change drills"},
		"edited after signing": {func(h *drillHarness, in *DrillInput) { in.RevokeUnused = true }, "inputs"},
		"definition edited after signing": {func(h *drillHarness, in *DrillInput) {
			in.Child.Runbook.Steps = in.Child.Runbook.Steps[:1]
		}, "definition"},
		"other schedule": {func(h *drillHarness, in *DrillInput) {
			other := *in
			other.ScheduleID = "drill:rotate-keys:bot-2"
			in.Authorization = h.signSchedule("root", other, time.Hour)
		}, "schedule"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newDrillHarness(t)
			in := h.drillInput(DrillModeRotate)
			tc.edit(h, &in)
			res := h.runDrillInput(in)
			require.Equal(t, DrillFailed, res.Result)
			require.True(t, strings.HasPrefix(res.Reason, "refused: "), res.Reason)
			require.Contains(t, res.Reason, tc.want)
			require.Empty(t, res.Child)
			require.Nil(t, res.AuthorizedBy)
			require.Empty(t, h.requests("bot.info"))
			require.Empty(t, h.requests("exchange.audit_keys"))
			require.Empty(t, h.starts)
			k := h.kinds()
			require.Len(t, k[AuditDrillResult], 1)
			require.Equal(t, "refused", k[AuditDrillResult][0].Attrs["authorization"])
			require.Contains(t, k[AuditDrillResult][0].Attrs["reason"], tc.want)
			require.Equal(t, "failed", k[AuditIncidentClosed][0].Attrs["status"])
			require.Len(t, k[AuditAuthzRefused], 1)
			require.Contains(t, k[AuditAuthzRefused][0].Attrs["reason"], tc.want)
		})
	}
}

// When the rotation fails, Then the drill fails, texts on-call, and closes
// its audit trail as failed.
func TestDrillFailureTextsOnCall(t *testing.T) {
	h := newDrillHarness(t)
	h.action("exchange.revoke_key", func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		return runbooks.ActionResult{}, temporal.NewNonRetryableApplicationError("key not revocable", "PermissionError", nil)
	})
	res := h.runDrill(DrillModeRotate)
	require.Equal(t, DrillFailed, res.Result)
	require.Contains(t, res.Reason, "revoke_old")
	require.True(t, res.Notified)
	sms := h.requests("notify.sms")
	require.Len(t, sms, 1)
	require.Contains(t, sms[0].Params["message"], "FAILED")
	require.Equal(t, "oncall", sms[0].Params["to"])
	k := h.kinds()
	require.Equal(t, "failed", k[AuditIncidentClosed][0].Attrs["status"])
	require.Equal(t, "failed", k[AuditDrillResult][0].Attrs["result"])
}

// Given a real incident of the bot open, Then the drill is skipped before
// it calls anything.
func TestDrillSkippedWhileIncidentOpen(t *testing.T) {
	h := newDrillHarness(t)
	h.open = []string{"contain-key-breach:bot-1:K1"}
	res := h.runDrill(DrillModeRotate)
	require.Equal(t, DrillSkipped, res.Result)
	require.Contains(t, res.Reason, "contain-key-breach:bot-1:K1")
	require.Empty(t, h.actionOrder())
}

// A rehearsal runs the runbook on the rehearsal bot, never on the real one.
func TestDrillRehearsalRunsOnMirror(t *testing.T) {
	h := newDrillHarness(t)
	h.ok("exchange.revoke_key", nil)
	res := h.runDrill(DrillModeRehearse)
	require.Equal(t, DrillPassed, res.Result, res.Reason)
	require.Equal(t, "rehearsal:rotate-keys:bot-1", res.Child)
	require.Len(t, h.prepare, 1)
	require.Equal(t, RehearsalRequest{Bot: "bot-1", Account: "binance", SubAccount: "bot-1@x", KeyID: "K1", DrillID: res.DrillID}, h.prepare[0])
	infos := h.requests("bot.info")
	require.Len(t, infos, 2) // the drill's own lookup, then the child's
	require.Equal(t, "bot-1", infos[0].Params["bot"])
	require.Equal(t, "rehearsal-bot-1", infos[1].Params["bot"])
	for _, r := range h.requests("exchange.revoke_key") {
		require.True(t, strings.HasPrefix(r.IncidentID, "rehearsal:"), "revoke outside the rehearsal: %+v", r)
	}
}

func TestDrillTimings(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	at := func(s float64) *time.Time { x := t0.Add(time.Duration(s * float64(time.Second))); return &x }
	st := IncidentState{StartedAt: t0, Steps: []StepState{
		{ID: "info", Action: "bot.info", Status: StatusSucceeded, StartedAt: at(0), EndedAt: at(0.1)},
		{ID: "restrict", Action: "exchange.set_ip_whitelist", Status: StatusFailed, StartedAt: at(0.1), EndedAt: at(0.2)},
		{ID: "freeze", Action: "bot.freeze", Status: StatusSucceeded, StartedAt: at(0.1), EndedAt: at(0.7)},
		{ID: "new_key", Action: "exchange.create_key", Status: StatusSucceeded, StartedAt: at(1), EndedAt: at(2)},
		{ID: "revoke_old", Action: "exchange.revoke_key", Status: StatusSucceeded, StartedAt: at(3), EndedAt: at(3.5)},
	}}
	require.Equal(t, 700*time.Millisecond, timeToContain(st))
	require.Equal(t, 2500*time.Millisecond, rotationDuration(st))
	require.Zero(t, timeToContain(IncidentState{StartedAt: t0}))
}
