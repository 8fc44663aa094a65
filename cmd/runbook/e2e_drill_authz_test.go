package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// drillRoster provisions, in home, operator alice (admin; her key at
// <home>/operator/id_ed25519, where the CLI looks by default) and bob
// (responder: no drill permission; key <home>/operator/bob), and returns
// the drill authorization of a worker whose roster they are: the shipped
// runbooks registered, an engine key of its own. It sets the worker's
// authorizer for the test.
func drillRoster(t *testing.T, home string) drillAuth {
	t.Helper()
	gen := func(path, comment string) string {
		s, err := operatorkey.Generate(path, comment)
		if err != nil {
			t.Fatal(err)
		}
		return operatorkey.AuthorizedKey(s.PublicKey(), comment)
	}
	alice := gen(filepath.Join(home, "operator", "id_ed25519"), "alice@e2e")
	bob := gen(filepath.Join(home, "operator", "bob"), "bob@e2e")
	enginePath := filepath.Join(t.TempDir(), "engine-key")
	engineLine := gen(enginePath, "engine")
	engine, err := operatorkey.Load(enginePath)
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]string{}
	for _, s := range runbooks.Shipped() {
		registered[runbooks.Hash(s.Src)] = s.Name
	}
	c, err := authz.Compile(authz.Policy{
		Operators: []authz.Operator{{Name: "alice", Keys: []string{alice}, Roles: []string{authz.RoleAdmin}},
			{Name: "bob", Keys: []string{bob}, Roles: []string{authz.RoleResponder}}},
		EngineKeys: []string{engineLine},
		Registered: registered,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The interpreter checks its starts with workerAuthorizer (until the
	// engine side builds the worker's Live from the config): the drills'
	// children must pass the same roster.
	workerAuthorizer.Set(c, nil)
	t.Cleanup(func() { workerAuthorizer.Set(nil, nil) })
	return drillAuth{authorizer: workerAuthorizer, signEngine: func(st authz.Statement) (authz.Signed, error) { return operatorkey.Sign(engine, st) }}
}

// Given the dev stack whose roster has alice (admin) and bob (responder),
// and a drill schedule alice created,
// When bob signs `drill pause` with his own key, or with his key claiming
// to be alice,
// Then both are refused with a reason naming the problem and the schedule
// stays as it was; when alice pauses it, it is paused with a note naming
// her and the change is in the schedule's audit trail under her verified
// name.
// And when someone with plain Temporal access creates a drill schedule
// straight through the schedule API (no signed statement), its run is
// refused at start: failed "refused: …", no child incident.
func TestE2E_DrillChangesNeedTheDrillRole(t *testing.T) {
	home := t.TempDir()
	auth := drillRoster(t, home)
	stack, err := startDevStack(context.Background(), devOptions{home: home, taskQueue: "runbook", console: os.Stderr, identity: "e2e",
		drillAuth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	id := workflows.DrillScheduleID("rotate-keys", "bot-1")
	if r := c.run("drill", "schedule", "--bot", "bot-1", "--every", "24h"); r.code != 0 || !strings.Contains(r.stdout, "by alice") {
		t.Fatalf("given: alice schedules a drill: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	bobKey := filepath.Join(home, "operator", "bob")

	// When bob pauses it, Then he is refused: responders do not change drills.
	r := c.run("drill", "pause", id, "--key", bobKey)
	if r.code == 0 || !strings.Contains(r.stderr, "drill pause refused: ") || !strings.Contains(r.stderr, "may change drills") {
		t.Fatalf("bob's pause: exit %d, stdout %q, stderr %q; want refused (no drill permission)", r.code, r.stdout, r.stderr)
	}
	// When bob signs as alice, Then he is refused: the key is not hers.
	r = c.run("drill", "pause", id, "--key", bobKey, "--as", "alice")
	if r.code == 0 || !strings.Contains(r.stderr, "drill pause refused: ") || !strings.Contains(r.stderr, "not alice's") {
		t.Fatalf("bob as alice: exit %d, stderr %q; want refused (bob's key)", r.code, r.stderr)
	}
	desc, err := stack.client.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if desc.Schedule.State.Paused {
		t.Fatalf("the schedule was paused by a refused change (note %q)", desc.Schedule.State.Note)
	}

	// When alice pauses it, Then it is paused, by her.
	if r := c.run("drill", "pause", id, "--note", "exchange maintenance"); r.code != 0 || !strings.Contains(r.stdout, "by alice") {
		t.Fatalf("alice's pause: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	desc, err = stack.client.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !desc.Schedule.State.Paused || desc.Schedule.State.Note != "exchange maintenance (alice)" {
		t.Fatalf("after alice's pause: paused=%v note %q", desc.Schedule.State.Paused, desc.Schedule.State.Note)
	}
	// And the audit trail of the schedule says who changed it.
	var changes []string
	var last cliResult
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		a := c.run("--nats-url", stack.nats.URL(), "audit", id, "--output", "json")
		last = a
		changes = changes[:0]
		if recs, err := audit.Import(strings.NewReader(a.stdout)); a.code == 0 && err == nil {
			for _, rec := range recs {
				if string(rec.Kind) == workflows.AuditDrillChanged {
					changes = append(changes, rec.Actor+" "+rec.Attrs["verb"]+" "+rec.Attrs["result"])
				}
			}
		}
		if len(changes) == 2 {
			break
		}
	}
	if strings.Join(changes, "; ") != "alice drill.schedule created; alice drill.pause paused" {
		t.Errorf("audit trail of %s: drill changes %q (audit: exit %d %s%s)", id, changes, last.code, last.stdout, last.stderr)
	}

	// Given a schedule made straight through Temporal's API, bypassing the
	// controller: When it runs, Then the run is refused at its start.
	lr, err := (&globals{}).loadRunbook("rotate-keys")
	if err != nil {
		t.Fatal(err)
	}
	forged := workflows.DrillScheduleID("rotate-keys", "bot-x")
	in := workflows.DrillInput{ScheduleID: forged, Bot: "bot-x", Mode: workflows.DrillModeRotate, RevokeUnused: true,
		Child: workflows.IncidentInput{Runbook: *lr.Runbook, RunbookHash: lr.Hash, Inputs: map[string]any{"bot": "bot-x"},
			Actions: catalog().Meta(actionNames(lr.Runbook)), Trigger: "drill", Audit: true}}
	_, err = stack.client.ScheduleClient().Create(context.Background(), client.ScheduleOptions{ID: forged,
		Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 24 * time.Hour}}},
		Action:  &client.ScheduleWorkflowAction{ID: forged, Workflow: workflows.DrillWorkflowName, Args: []any{in}, TaskQueue: "runbook"},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, TriggerImmediately: true})
	if err != nil {
		t.Fatal(err)
	}
	d := c.waitDrill("bot-x")
	if d.Result != workflows.DrillFailed || !strings.HasPrefix(d.Reason, "refused: ") || d.Child != "" {
		t.Fatalf("forged schedule's run: %s %q child %q; want failed, refused, no child", d.Result, d.Reason, d.Child)
	}
}
