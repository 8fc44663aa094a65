package main

import (
	"strings"
	"testing"

	"github.com/keyresponse/runbook/workflows"
)

// Given `runbook dev` running as its own process with state in a home dir,
// When an incident is waiting at its approval gate and the process is killed
// with SIGKILL, then started again on the same home,
// Then the incident is still there, takes the approval and completes.
func TestE2E_DevKilledMidIncidentResumes(t *testing.T) {
	// The operator `runbook dev` provisions is named after $USER.
	t.Setenv("USER", "carol")
	home := t.TempDir()
	tport, nport := freePort(t), freePort(t)

	// Given
	dev := startDevProcess(t, home, tport, nport)
	c := cli{t: t, home: home}

	// When
	const id = "demo-approval:bot-9"
	if r := c.run("exec", "demo-approval", "--input", "bot=bot-9"); r.code != 0 {
		t.Fatalf("exec: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	before := c.waitFor(id, "the approval gate", func(st workflows.IncidentState) bool {
		for _, s := range st.Steps {
			if s.Status == workflows.StatusWaiting {
				return true
			}
		}
		return false
	})
	dev.kill()
	dev = startDevProcess(t, home, tport, nport)

	// Then
	if r := c.run("approve", id); r.code != 0 {
		t.Fatalf("approve after restart: exit %d: %s\n--- dev output ---\n%s", r.code, r.stderr, dev.out.String())
	}
	final := c.waitFor(id, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
	if final.Status != workflows.StatusSucceeded {
		t.Fatalf("incident ended %s (%s)", final.Status, final.Error)
	}
	if !final.StartedAt.Equal(before.StartedAt) {
		t.Errorf("incident restarted instead of resuming: started %s, before %s", final.StartedAt, before.StartedAt)
	}
	var approvedBy string
	for _, s := range final.Steps {
		if s.Kind == "approval" {
			approvedBy = s.DecidedBy
		}
	}
	if !strings.HasPrefix(approvedBy, "carol (SHA256:") {
		t.Errorf("approval recorded for %q, want carol with her key's fingerprint", approvedBy)
	}
}
