package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/keyresponse/runbook/cmd/runbook/config"
	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// drillResponder makes bob's key at <home>/operator/bob and returns the
// config that lists him as a responder (no drill permission); `runbook
// dev` adds its own operator, an admin, whose key the CLI uses by default.
func drillResponder(t *testing.T, home string) *config.Config {
	t.Helper()
	s, err := operatorkey.Generate(filepath.Join(home, "operator", "bob"), "bob@e2e")
	if err != nil {
		t.Fatal(err)
	}
	bob := authz.Operator{Name: "bob", Keys: []string{operatorkey.AuthorizedKey(s.PublicKey(), "bob@e2e")}, Roles: []string{authz.RoleResponder}}
	return &config.Config{Operators: []config.Operator{{Operator: bob}}}
}

// Given the dev stack whose roster has its own operator (admin) and bob
// (responder), and a drill schedule the admin created,
// When bob signs `drill pause` with his own key, or with his key claiming
// to be the admin,
// Then both are refused with a reason naming the problem and the schedule
// stays as it was; when the admin pauses it, it is paused with a note
// naming them and the change is in the schedule's audit trail under their
// verified name.
// And when someone with plain Temporal access creates a drill schedule
// straight through the schedule API (no signed statement), its run is
// refused at start: failed "refused: …", no child incident.
func TestE2E_DrillChangesNeedTheDrillRole(t *testing.T) {
	home := t.TempDir()
	admin := devOperatorName(os.Getenv("USER"))
	stack, err := startDevStack(context.Background(), devOptions{home: home, taskQueue: "runbook", console: io.Discard, identity: "e2e",
		cfg: drillResponder(t, home)})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	id := workflows.DrillScheduleID("rotate-keys", "bot-1")
	if r := c.run("drill", "schedule", "--bot", "bot-1", "--every", "24h"); r.code != 0 || !strings.Contains(r.stdout, "by "+admin) {
		t.Fatalf("given: the admin schedules a drill: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	bobKey := filepath.Join(home, "operator", "bob")

	// When bob pauses it, Then he is refused: responders do not change drills.
	r := c.run("drill", "pause", id, "--key", bobKey)
	if r.code == 0 || !strings.Contains(r.stderr, "drill pause refused: ") || !strings.Contains(r.stderr, "may change drills") {
		t.Fatalf("bob's pause: exit %d, stdout %q, stderr %q; want refused (no drill permission)", r.code, r.stdout, r.stderr)
	}
	// When bob signs as the admin, Then he is refused: the key is not theirs.
	r = c.run("drill", "pause", id, "--key", bobKey, "--as", admin)
	if r.code == 0 || !strings.Contains(r.stderr, "drill pause refused: ") || !strings.Contains(r.stderr, "not "+admin+"'s") {
		t.Fatalf("bob as the admin: exit %d, stderr %q; want refused (bob's key)", r.code, r.stderr)
	}
	desc, err := stack.client.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if desc.Schedule.State.Paused {
		t.Fatalf("the schedule was paused by a refused change (note %q)", desc.Schedule.State.Note)
	}

	// When the admin pauses it, Then it is paused, by them.
	if r := c.run("drill", "pause", id, "--note", "exchange maintenance"); r.code != 0 || !strings.Contains(r.stdout, "by "+admin) {
		t.Fatalf("the admin's pause: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	desc, err = stack.client.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !desc.Schedule.State.Paused || desc.Schedule.State.Note != "exchange maintenance ("+admin+")" {
		t.Fatalf("after the admin's pause: paused=%v note %q", desc.Schedule.State.Paused, desc.Schedule.State.Note)
	}
	// And the audit trail of the schedule says who changed it.
	var changes, refused []string
	var last cliResult
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		a := c.run("--nats-url", stack.nats.URL(), "audit", id, "--output", "json")
		last = a
		changes, refused = changes[:0], refused[:0]
		if recs, err := audit.Import(strings.NewReader(a.stdout)); a.code == 0 && err == nil {
			for _, rec := range recs {
				switch rec.Kind {
				case audit.DrillChanged:
					changes = append(changes, rec.Actor+" "+rec.Attrs["verb"]+" "+rec.Attrs["result"])
				case audit.AuthzRefused:
					refused = append(refused, rec.Actor+" "+rec.Attrs["verb"])
				}
			}
		}
		if len(changes) == 2 && len(refused) == 2 {
			break
		}
	}
	if strings.Join(changes, "; ") != admin+" drill.schedule created; "+admin+" drill.pause paused" {
		t.Errorf("audit trail of %s: drill changes %q (audit: exit %d %s%s)", id, changes, last.code, last.stdout, last.stderr)
	}
	// And bob's two refused attempts are in it too, under the names claimed.
	if strings.Join(refused, "; ") != "bob drill.pause; "+admin+" drill.pause" {
		t.Errorf("audit trail of %s: refusals %q", id, refused)
	}

	// Given a schedule made straight through Temporal's API, bypassing the
	// controller: When it runs, Then the run is refused at its start.
	lr, err := (&globals{}).loadRunbook("rotate-keys")
	if err != nil {
		t.Fatal(err)
	}
	actions, err := resolveActions(lr.Runbook)
	if err != nil {
		t.Fatal(err)
	}
	forged := workflows.DrillScheduleID("rotate-keys", "bot-x")
	in := workflows.DrillInput{ScheduleID: forged, Bot: "bot-x", Mode: workflows.DrillModeRotate, RevokeUnused: true,
		Child: workflows.IncidentInput{Runbook: *lr.Runbook, RunbookHash: lr.Hash, Inputs: map[string]any{"bot": "bot-x"},
			Actions: actions, Trigger: "drill", Audit: true}}
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
