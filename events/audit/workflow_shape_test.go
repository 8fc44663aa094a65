package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"gopkg.in/yaml.v3"

	"github.com/keyresponse/runbook/activities"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
	"github.com/keyresponse/runbook/workflows/workflowstest"
)

// jsonNames lists the JSON field names of a struct type.
func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestWorkflowFactHasRecordShape proves workflows.AuditFact is the
// caller-filled part of Record: same JSON names (Record adds only what
// Store.Append seals), and a fact decodes into a Record field for field.
func TestWorkflowFactHasRecordShape(t *testing.T) {
	want := slices.DeleteFunc(jsonNames(reflect.TypeOf(Record{})), func(n string) bool {
		return n == "seq" || n == "prev_hash" || n == "hash" || n == "key_id" || n == "mac"
	})
	if got := jsonNames(reflect.TypeOf(workflows.AuditFact{})); !slices.Equal(got, want) {
		t.Fatalf("AuditFact JSON fields %v, Record's caller-filled fields %v", got, want)
	}

	f := workflows.AuditFact{IncidentID: incident, Run: "run-1", Kind: workflows.AuditApprovalGranted,
		Time: time.Date(2026, 11, 27, 9, 1, 2, 345, time.UTC), Step: "gate", Actor: "alice@oncall",
		Attrs: map[string]string{"comment": "go"}, Key: "approval/gate/granted"}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("a fact does not decode as a Record: %v", err)
	}
	want2 := Record{IncidentID: incident, Run: "run-1", Kind: ApprovalGranted, Time: f.Time, Step: "gate",
		Actor: "alice@oncall", Attrs: map[string]string{"comment": "go"}, Key: "approval/gate/granted"}
	if !reflect.DeepEqual(r, want2) {
		t.Fatalf("decoded %+v\nwant    %+v", r, want2)
	}
	if !reflect.DeepEqual(FromWorkflow(f), r) {
		t.Fatalf("FromWorkflow %+v differs from the JSON decoding %+v", FromWorkflow(f), r)
	}

	for _, k := range []string{workflows.AuditIncidentOpened, workflows.AuditStepSkipped, workflows.AuditApprovalAsked,
		workflows.AuditApprovalGranted, workflows.AuditApprovalDenied, workflows.AuditEvidenceAdded, workflows.AuditIncidentClosed} {
		if !Kind(k).Known() {
			t.Errorf("workflow fact kind %q is not an audit kind", k)
		}
	}
	if workflows.AuditBatchActivityName != RecordBatchActivityName {
		t.Errorf("workflow records batches through %q, the worker registers %q", workflows.AuditBatchActivityName, RecordBatchActivityName)
	}
	if workflows.AuditActivityName != RecordActivityName {
		t.Errorf("workflow records through %q, the worker registers %q", workflows.AuditActivityName, RecordActivityName)
	}
}

const auditedRunbook = `
name: contain-key-breach
steps:
  - id: freeze
    action: bot.freeze
  - id: gate
    approval: {group: security, message: "revoke the leaked key?"}
  - id: revoke
    action: exchange.revoke_key
  - id: page
    action: notify.sms
    when: "false"
`

// runAudited runs the real interpreter workflow (SDK test environment)
// with the registry's actions, the Hook and the given audit.record
// registration, against the store behind js.
func runAudited(t *testing.T, store *Store, recordFn, batchFn any) workflows.IncidentState {
	t.Helper()
	st, _ := runAuditedBy(t, store, recordFn, batchFn)
	return st
}

// runAuditedBy is runAudited returning the roster that signed the start
// (the engine) and the approval (alice).
func runAuditedBy(t *testing.T, store *Store, recordFn, batchFn any) (workflows.IncidentState, *workflowstest.Roster) {
	t.Helper()
	ro := workflowstest.New(t).Operator("alice", "approver")
	reg, err := activities.NewRegistry(hookActions()...)
	if err != nil {
		t.Fatal(err)
	}
	reg.AddHook(NewHook(store))
	var rb runbooks.Runbook
	if err := yaml.Unmarshal([]byte(auditedRunbook), &rb); err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	env := ts.NewTestWorkflowEnvironment()
	workflows.Register(env, ro.Live)
	env.RegisterActivityWithOptions(func(context.Context, workflows.AskApproversRequest) error { return nil },
		activity.RegisterOptions{Name: workflows.AskApproversActivity})
	reg.RegisterWith(env)
	env.RegisterActivityWithOptions(recordFn, activity.RegisterOptions{Name: RecordActivityName})
	env.RegisterActivityWithOptions(batchFn, activity.RegisterOptions{Name: RecordBatchActivityName})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalEvidence, workflows.Evidence{EventID: "evt-7f3a", Subject: "breach.bot-1.key_leaked"})
		env.SignalWorkflow(workflows.SignalEvidence, workflows.Evidence{EventID: "evt-7f3b", Subject: "breach.bot-1.unknown_ip_login"})
		env.SignalWorkflow(workflows.SignalEvidence, workflows.Evidence{EventID: "evt-7f3b", Subject: "breach.bot-1.unknown_ip_login"})
	}, 30*time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateApprove, "approve-1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Errorf("approve rejected: %v", err) }, OnComplete: func(any, error) {},
		}, workflows.Decision{Identity: "alice", Comment: "confirmed", Signed: ro.Sign("alice", authz.Statement{Verb: authz.VerbApprove,
			Incident: incident, Run: workflowstest.TestRunID, Step: "gate", Comment: "confirmed", IssuedAt: env.Now()})})
	}, time.Minute)
	in := workflows.IncidentInput{
		IncidentID: incident, Runbook: rb, RunbookHash: "sha256:3b7e1c0d9a55",
		Event:   map[string]any{"id": "evt-7f3a", "time": "2026-11-27T09:00:00Z", "data": map[string]any{}},
		Actions: reg.Meta([]string{"bot.freeze", "exchange.revoke_key", "notify.sms"}),
		Trigger: "event", StartedBy: "alertmanager", Audit: true,
	}
	ro.Start(&in, env.Now())
	env.ExecuteWorkflow(workflows.IncidentWorkflowName, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st workflows.IncidentState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st, ro
}

// TestWorkflowFactsLandInTheTrail runs the interpreter with RecordFact as
// its audit.record local activity and the Hook in the actions, against a
// real JetStream store: the trail holds the workflow's facts exactly as
// this package's constructors build them, interleaved with the step facts,
// and verifies and projects.
func TestWorkflowFactsLandInTheTrail(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	store := NewStore(js, WithKeys(testKeys))
	ra := &RecordActivity{Store: store}
	st, ro := runAuditedBy(t, store, ra.RecordFact, ra.RecordFacts)
	if st.Status != workflows.StatusSucceeded {
		t.Fatalf("incident %s: %s", st.Status, st.Error)
	}

	recs := mustLoad(t, js, incident)
	if err := Verify(recs); err != nil {
		t.Fatal(err)
	}
	// The workflow adds who, as verified, to the opening and the decision.
	opened := Opened(incident, OpenedFacts{TriggerEventID: "evt-7f3a", Runbook: "contain-key-breach", RunbookHash: "sha256:3b7e1c0d9a55",
		Trigger: "event", StartedBy: "alertmanager", EventTime: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)})
	opened.Attrs["verified_by"], opened.Attrs["fingerprint"], opened.Attrs["policy"] = authz.EngineName, ro.Fingerprint(authz.EngineName), st.StartedByVerified.Policy
	granted := ApprovalDecided(incident, "gate", "alice", "confirmed", true)
	granted.Attrs["verified_by"], granted.Attrs["fingerprint"], granted.Attrs["policy"] = "alice", ro.Fingerprint("alice"), st.StartedByVerified.Policy
	wantFacts := []Record{
		opened,
		ApprovalAskedFact(incident, "gate", "security", "revoke the leaked key?"),
		EvidenceFact(incident, "evt-7f3b", "breach.bot-1.unknown_ip_login"),
		granted,
		Skipped(incident, "page", "condition is false: false"),
		Closed(incident, "succeeded", ""),
	}
	var got, want []string
	show := func(r Record) string {
		return fmt.Sprintf("%s step=%q actor=%q key=%q attrs=%v", r.Kind, r.Step, r.Actor, r.Key, r.Attrs)
	}
	run := recs[0].Run
	for _, r := range recs {
		if r.Run != run || run == "" {
			t.Fatalf("record #%d run %q, first record's %q: one incident run, one run id", r.Seq, r.Run, run)
		}
		switch r.Kind {
		case IncidentOpened, ApprovalAsked, ApprovalGranted, ApprovalDenied, EvidenceAdded, StepSkipped, IncidentClosed:
			got = append(got, show(r))
		}
	}
	for _, r := range wantFacts {
		want = append(want, show(r))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("workflow facts in the trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	v := Project(recs)
	if v.Status != StatusSucceeded || v.TriggerEventID != "evt-7f3a" || v.StartedBy != "alertmanager" || v.Evidence != 1 || v.EventTime == nil {
		t.Fatalf("projection: %+v", v)
	}
	if len(v.Approvals) != 1 || v.Approvals[0].Status != StatusGranted || v.Approvals[0].Identity != "alice" {
		t.Fatalf("approvals: %+v", v.Approvals)
	}
	statuses := map[string]string{}
	for _, s := range v.Steps {
		statuses[s.ID] = s.Status
	}
	if statuses["freeze"] != StatusSucceeded || statuses["revoke"] != StatusSucceeded || statuses["page"] != StatusSkipped {
		t.Fatalf("step statuses %v", statuses)
	}
}

// TestRecordCannotServeTheLocalActivity is why RecordFact exists: the
// local activity hands the workflow's AuditFact to the function as is, so
// Record (taking a Record) fails every write. The incident still succeeds
// (audit failures never fail it) but its own facts are missing.
func TestRecordCannotServeTheLocalActivity(t *testing.T) {
	_, js := setup(t, StreamOptions{})
	store := NewStore(js, WithKeys(testKeys))
	ra := &RecordActivity{Store: store}
	st := runAudited(t, store, ra.Record, func(ctx context.Context, recs []Record) error {
		for _, r := range recs {
			if _, err := ra.Record(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if st.Status != workflows.StatusSucceeded {
		t.Fatalf("incident %s: %s", st.Status, st.Error)
	}
	for _, r := range mustLoad(t, js, incident) {
		if r.Kind == IncidentOpened || r.Kind == IncidentClosed {
			t.Fatalf("%s was stored through Record: the local activity does pass payloads, RecordFact may be unnecessary", r.Kind)
		}
	}
}
