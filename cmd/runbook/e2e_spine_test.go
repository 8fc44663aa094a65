package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyresponse/runbook/integrations/temporalcodec"

	"github.com/keyresponse/runbook/workflows"
)

// flakyHook answers 500 to its first request and 200 afterwards, so a step
// calling it fails once and succeeds on retry.
func flakyHook(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// Given the embedded Temporal server, NATS and a worker (the dev stack),
// When on-call runs a runbook with a parallel group, a flaky step, a `when`
// that skips a step and an approval gate, and approves through the CLI,
// Then every step ends in the expected state and the approver is recorded.
func TestE2E_SpineRunbookThroughCLI(t *testing.T) {
	// The operator `runbook dev` provisions is named after $USER.
	t.Setenv("USER", "alice")
	hook, calls := flakyHook(t)
	home := recordingHome(t)

	// Given
	stack, err := startDevStack(context.Background(), devOptions{
		home:         home,
		taskQueue:    "e2e-spine",
		console:      os.Stderr,
		allowedHosts: []string{strings.TrimPrefix(hook.URL, "http://")},
		identity:     "e2e",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	t.Setenv("RUNBOOK_TASK_QUEUE", "e2e-spine")
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	file := filepath.Join("testdata", "e2e-spine.yaml")

	if r := c.run("validate", file); r.code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// When: exec --wait runs until the gate, then waits.
	const id = "e2e-spine:bot-7"
	execDone := make(chan cliResult, 1)
	go func() {
		execDone <- c.run("exec", file, "--input", "bot=bot-7", "--input", "hook="+hook.URL, "--wait", "--output", "json")
	}()
	waiting := c.waitFor(id, "the approval gate", func(st workflows.IncidentState) bool {
		return stepByID(st, "gate").Status == workflows.StatusWaiting
	})
	if got := stepByID(waiting, "done").Status; got != workflows.StatusPending {
		t.Fatalf("step after the gate ran before approval: %s", got)
	}
	// Claiming another name does not make the dev operator's key mallory's.
	if r := c.run("approve", id, "--as", "mallory"); r.code == 0 || !strings.Contains(r.stderr, `"mallory" is not in the roster`) {
		t.Fatalf("approve claiming to be mallory: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	if r := c.run("approve", id, "--comment", "bot host checked"); r.code != 0 {
		t.Fatalf("approve: exit %d: %s", r.code, r.stderr)
	}
	r := <-execDone

	// Then
	if r.code != 0 {
		t.Fatalf("exec --wait: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	var final workflows.IncidentState
	if err := json.Unmarshal([]byte(r.stdout), &final); err != nil {
		t.Fatalf("exec --output json: %v\n%s", err, r.stdout)
	}
	want := map[string]workflows.Status{
		"first-moves":   workflows.StatusSucceeded,
		"tell-a":        workflows.StatusSucceeded,
		"tell-b":        workflows.StatusSucceeded,
		"flaky-call":    workflows.StatusSucceeded,
		"only-when-low": workflows.StatusSkipped,
		"gate":          workflows.StatusSucceeded,
		"done":          workflows.StatusSucceeded,
	}
	for stepID, status := range want {
		if got := stepByID(final, stepID).Status; got != status {
			t.Errorf("step %s: status %q, want %q", stepID, got, status)
		}
	}
	if final.Status != workflows.StatusSucceeded {
		t.Errorf("incident status %q, want succeeded (%s)", final.Status, final.Error)
	}
	if got := stepByID(final, "flaky-call").Attempts; got != 2 {
		t.Errorf("flaky-call attempts = %d, want 2 (hook saw %d calls)", got, calls.Load())
	}
	if got := stepByID(final, "done").Summary; !strings.Contains(got, "hook answered 200") {
		t.Errorf("done step summary %q: want the templated output of flaky-call", got)
	}
	if got := stepByID(final, "tell-a").Parent; got != "first-moves" {
		t.Errorf("tell-a parent %q, want first-moves", got)
	}

	// `runbook status` shows who approved.
	st := c.run("status", id)
	if st.code != 0 || !strings.Contains(st.stdout, "by alice") {
		t.Errorf("status does not show the approver (exit %d):\n%s%s", st.code, st.stdout, st.stderr)
	}

	// The workflow history holds the runbook's content hash.
	if final.RunbookHash == "" || !strings.HasPrefix(final.RunbookHash, "sha256:") {
		t.Fatalf("runbook hash %q", final.RunbookHash)
	}
	started := fetchHistory(t, stack, id).GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	var recorded workflows.IncidentInput
	if err := temporalcodec.DataConverter(stack.payloadKeys).FromPayloads(started.GetInput(), &recorded); err != nil {
		t.Fatalf("decode the recorded workflow input: %v", err)
	}
	if recorded.RunbookHash != final.RunbookHash || recorded.Runbook.Name != "e2e-spine" {
		t.Errorf("history's start event holds runbook %q hash %q, want e2e-spine %s", recorded.Runbook.Name, recorded.RunbookHash, final.RunbookHash)
	}
	recordHistory(t, stack, id, "e2e-spine")

	// `runbook list` shows the incident, also filtered by its search attributes.
	if l := c.run("list"); !strings.Contains(l.stdout, id) {
		t.Errorf("list does not show %s:\n%s", id, l.stdout)
	}
	waitUntil(t, "the incident is listed by its BotID search attribute", func() bool {
		return strings.Contains(c.run("list", "--bot", "bot-7", "--runbook", "e2e-spine").stdout, id)
	})
	if l := c.run("list", "--bot", "bot-other"); strings.Contains(l.stdout, id) {
		t.Errorf("list --bot bot-other shows %s", id)
	}
}
