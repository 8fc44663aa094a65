package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/runbooks"
)

// auditLog collects the facts the mocked audit.record local activity got.
type auditLog struct {
	h       *harness
	calls   int // attempts, failed ones included
	facts   []AuditFact
	batches []int // sizes of the audit.record_batch calls
}

// auditing mocks the audit.record local activity. A placeholder that fails
// is registered under the name (the SDK needs a registered function to run
// a local activity by name) and env.OnActivity replaces it: if the mock did
// not apply to local activities, no fact would be collected. fail makes
// every attempt fail; call it before registering any other mock.
func (h *harness) auditing(fail error) *auditLog {
	l := &auditLog{h: h}
	h.env.RegisterActivityWithOptions(func(context.Context, AuditFact) error {
		return errors.New("placeholder called: the mock did not apply")
	}, activity.RegisterOptions{Name: AuditActivityName})
	record := func(ctx context.Context, f AuditFact) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		l.calls++
		if fail != nil {
			return fail
		}
		l.facts = append(l.facts, f)
		return nil
	}
	registerAuditBatch(h.env, func(ctx context.Context, f AuditFact) error {
		return record(ctx, f)
	}, func(n int) {
		h.mu.Lock()
		l.batches = append(l.batches, n)
		h.mu.Unlock()
	})
	h.env.OnActivity(AuditActivityName, mock.Anything, mock.Anything).Return(record)
	return l
}

// registerAuditBatch registers audit.record_batch as record called for
// each fact in order, as events/audit's RecordFacts does.
func registerAuditBatch(env interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}, record func(context.Context, AuditFact) error, seen ...func(n int)) {
	env.RegisterActivityWithOptions(func(ctx context.Context, fs []AuditFact) error {
		for _, s := range seen {
			s(len(fs))
		}
		for _, f := range fs {
			if err := record(ctx, f); err != nil {
				return err
			}
		}
		return nil
	}, activity.RegisterOptions{Name: AuditBatchActivityName})
}

// lines renders the facts as "kind step actor key attrs" for comparison.
func (l *auditLog) lines() []string {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	var out []string
	for _, f := range l.facts {
		out = append(out, fmt.Sprintf("%s|%s|%s|%s|%v", f.Kind, f.Step, f.Actor, f.Key, f.Attrs))
	}
	return out
}

func audited(in IncidentInput) IncidentInput {
	in.Audit = true
	in.Event["time"] = "2026-11-27T10:00:00.5+01:00"
	return in
}

func TestAuditApprovePath(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(nil)
	start := h.env.Now()
	h.at("1m", func() {
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-1", Subject: "breach.bot1.key_leaked"}) // the trigger, again
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"})
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"}) // redelivered
	})
	h.at("2m", func() { h.update(UpdateApprove, Decision{Identity: "alice", Comment: "go"}) })
	st := h.run(audited(approvalInput(t, "abort")))
	require.Equal(t, StatusSucceeded, st.Status)

	require.NotNil(t, st.StartedByVerified)
	assert.Equal(t, []string{
		"incident.opened||breach.bot1.key_leaked|opened|map[event_time:2026-11-27T09:00:00.5Z fingerprint:" + h.fp("engine") + " policy:" + st.StartedByVerified.Policy +
			" runbook:rb runbook_hash:sha256:test trigger:event trigger_event_id:evt-1 verified_by:engine]",
		"approval.asked|gate||approval/gate/asked|map[group:security message:revoke the leaked key?]",
		"evidence.added|||evidence/evt-2|map[event_id:evt-2 subject:breach.bot1.login_unknown_ip]",
		"approval.granted|gate|alice|approval/gate/granted|map[comment:go fingerprint:" + h.fp("alice") + " policy:" + st.StartedByVerified.Policy + " verified_by:alice]",
		"incident.closed|||closed|map[status:succeeded]",
	}, l.lines())
	for _, f := range l.facts {
		assert.Equal(t, "inc-bot1-contain", f.IncidentID, f.Kind)
		assert.NotEmpty(t, f.Run, f.Kind)
	}
	// Times are workflow time when the fact happened.
	assert.True(t, l.facts[0].Time.Equal(start), "opened at %v, started %v", l.facts[0].Time, start)
	assert.True(t, l.facts[3].Time.Equal(start.Add(2*time.Minute)), "granted at %v", l.facts[3].Time)
	assert.Equal(t, 5, l.calls, "one write per fact")
}

func TestAuditDenyPathRecordsSkippedSteps(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(nil)
	h.at("1m", func() { h.update(UpdateDeny, Decision{Step: "gate", Identity: "bob", Comment: "false positive"}) })
	st := h.run(audited(approvalInput(t, "abort")))
	require.Equal(t, StatusDenied, st.Status)

	lines := l.lines()
	require.Len(t, lines, 5, "%v", lines)
	assert.Equal(t, []string{
		"approval.asked|gate||approval/gate/asked|map[group:security message:revoke the leaked key?]",
		"approval.denied|gate|bob|approval/gate/denied|map[comment:false positive fingerprint:" + h.fp("bob") + " policy:" + st.Steps[1].Approvals[0].Policy + " verified_by:bob]",
		"step.skipped|revoke||step/revoke/skipped|map[reason:not run: incident denied]",
		"incident.closed|||closed|map[error:step gate denied by bob status:denied]",
	}, lines[1:])
}

func TestAuditSkippedConditionAndHoldGate(t *testing.T) {
	h := newHarness(t)
	h.ok("core.log", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(nil)
	h.at("1m", func() { h.update(UpdateApprove, Decision{Step: "revoke", Identity: "carol"}) })
	in := audited(input(t, `
name: rb
steps:
  - id: log
    action: core.log
    when: event.data.severity == "low"
  - id: revoke
    action: exchange.revoke_key
`))
	in.Event["time"] = nil // a manual start: no event time
	in.HoldIrreversible, in.HoldIrreversibleReason = true, "blast radius exceeded"
	st := h.run(in)
	require.Equal(t, StatusSucceeded, st.Status)

	assert.Equal(t, []string{
		"incident.opened||breach.bot1.key_leaked|opened|map[fingerprint:" + h.fp("engine") + " policy:" + st.StartedByVerified.Policy +
			" runbook:rb runbook_hash:sha256:test trigger:event trigger_event_id:evt-1 verified_by:engine]",
		`step.skipped|log||step/log/skipped|map[reason:condition is false: event.data.severity == "low"]`,
		"approval.asked|revoke.hold||approval/revoke.hold/asked|map[group:oncall message:hold before irreversible step revoke (exchange.revoke_key): blast radius exceeded]",
		"approval.granted|revoke.hold|carol|approval/revoke.hold/granted|map[fingerprint:" + h.fp("carol") + " policy:" + st.StartedByVerified.Policy + " verified_by:carol]",
		"incident.closed|||closed|map[status:succeeded]",
	}, l.lines())
}

func TestAuditAbortIsClosedWithWhoAborted(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(nil)
	h.at("1m", func() { h.update(UpdateAbort, Decision{Identity: "dave", Comment: "drill over"}) })
	st := h.run(audited(approvalInput(t, "abort")))
	require.Equal(t, StatusAborted, st.Status)
	lines := l.lines()
	require.NotEmpty(t, lines)
	assert.Equal(t, "incident.closed|||closed|map[error:aborted by dave: drill over status:aborted]", lines[len(lines)-1],
		"the close is recorded although the run context was cancelled")
}

func TestAuditFailureDoesNotFailTheIncident(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(temporal.NewApplicationError("nats: no responders", "NetworkError"))
	h.at("1m", func() { h.update(UpdateApprove, Decision{Identity: "alice"}) })
	st := h.run(audited(approvalInput(t, "abort")))

	assert.Equal(t, StatusSucceeded, st.Status)
	assert.Empty(t, st.Error)
	assert.Equal(t, StatusSucceeded, step(t, st, "revoke").Status)
	assert.Len(t, h.requests("exchange.revoke_key"), 1)
	assert.Empty(t, l.facts)
	// Four facts (opened, asked, granted, closed), each tried the
	// policy's three times and then given up.
	assert.Equal(t, 4*int(auditOptions.RetryPolicy.MaximumAttempts), l.calls)
}

func TestAuditDoesNotHoldBackTheFirstStep(t *testing.T) {
	h := newHarness(t)
	froze := make(chan struct{})
	h.action("bot.freeze", func(context.Context, runbooks.ActionRequest) (runbooks.ActionResult, error) {
		close(froze)
		return runbooks.ActionResult{}, nil
	})
	var openedAfterFreeze bool
	h.env.RegisterActivityWithOptions(func(context.Context, AuditFact) error { return nil },
		activity.RegisterOptions{Name: AuditActivityName})
	registerAuditBatch(h.env, func(context.Context, AuditFact) error { return nil })
	h.env.OnActivity(AuditActivityName, mock.Anything, mock.Anything).Return(func(ctx context.Context, f AuditFact) error {
		if f.Kind == AuditIncidentOpened {
			// The opening write cannot finish until the first step has
			// run: a workflow that waited for it would deadlock here (the
			// guard below turns that into a failure, not a hang).
			select {
			case <-froze:
				openedAfterFreeze = true
			case <-time.After(10 * time.Second):
			}
		}
		return nil
	})
	st := h.run(audited(input(t, `
name: rb
steps:
  - id: freeze
    action: bot.freeze
`)))
	assert.Equal(t, StatusSucceeded, st.Status)
	assert.True(t, openedAfterFreeze, "the first step waited for the incident.opened write")
}

func TestNoAuditWhenNotAsked(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(nil)
	h.at("1m", func() {
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-2"})
		h.update(UpdateDeny, Decision{Identity: "bob"})
	})
	in := approvalInput(t, "abort")
	require.False(t, in.Audit)
	st := h.run(in)
	require.Equal(t, StatusDenied, st.Status)
	assert.Zero(t, l.calls, "Audit false: no audit.record call at all")
}

func TestEvidenceWithoutIDGetsDistinctAuditKeys(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(nil)
	h.at("1m", func() {
		h.env.SignalWorkflow(SignalEvidence, Evidence{Subject: "a"})
		h.env.SignalWorkflow(SignalEvidence, Evidence{Subject: "b"})
	})
	h.at("2m", func() { h.update(UpdateApprove, Decision{Identity: "alice"}) })
	h.run(audited(approvalInput(t, "abort")))
	var keys []string
	for _, f := range l.facts {
		if f.Kind == AuditEvidenceAdded {
			keys = append(keys, f.Key)
		}
	}
	assert.Equal(t, []string{"evidence/#1", "evidence/#2"}, keys)
}
