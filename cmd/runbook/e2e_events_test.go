package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/workflows"
)

// Given the dev stack with the trigger consumer and a runbook triggered by
// key_leaked events,
// When on-call sends one signed event and then 1,000 more for the same bot,
// Then exactly one incident starts, the later events are evidence in it and
// in its audit trail, and the audit chain verifies.
func TestE2E_BreachEventStartsOneIncident(t *testing.T) {
	// The operator `runbook dev` provisions is named after $USER.
	t.Setenv("USER", "dana")
	home := t.TempDir()
	g := &globals{runbooks: []string{"testdata/runbooks"}}
	books, err := g.triggerBooks()
	if err != nil {
		t.Fatal(err)
	}
	stack, err := startDevStack(context.Background(), devOptions{
		home: home, taskQueue: "runbook", console: os.Stderr, identity: "e2e", books: books,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stack.stop()
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	nats := func(args ...string) cliResult {
		return c.run(append([]string{"--nats-url", stack.nats.URL(), "--runbooks", "testdata/runbooks"}, args...)...)
	}

	// When: one event.
	if r := nats("event", "send", "--bot", "bot-3", "--kind", "e2e_probe", "--exchange", "okx", "--key-id", "AK-3", "--severity", "critical"); r.code != 0 {
		t.Fatalf("event send: %d %s", r.code, r.stderr)
	}
	const id = "e2e-breach:bot-3"
	c.waitFor(id, "the gate", func(st workflows.IncidentState) bool {
		return stepByID(st, "gate").Status == workflows.StatusWaiting
	})
	// 1,000 more for the same bot while it runs.
	if r := nats("event", "send", "--bot", "bot-3", "--kind", "e2e_probe", "--exchange", "okx", "--severity", "critical", "--count", "1000"); r.code != 0 {
		t.Fatalf("event send x1000: %d %s", r.code, r.stderr)
	}
	st := c.waitFor(id, "the 1,000 later events as evidence", func(st workflows.IncidentState) bool {
		return len(st.Evidence)+st.EvidenceDropped >= 1000
	})

	// Then: one incident.
	l := nats("list", "--output", "json")
	var listed struct {
		Incidents []incidentSummary `json:"incidents"`
	}
	mustUnmarshal(t, l.stdout, &listed)
	n := 0
	for _, inc := range listed.Incidents {
		if strings.HasPrefix(inc.IncidentID, "e2e-breach:") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("list shows %d e2e-breach incidents, want 1:\n%s", n, l.stdout)
	}
	if got := stats(stack).Started; got != 1 {
		t.Errorf("consumer started %d incidents, want 1", got)
	}
	if !strings.Contains(stepByID(st, "announce").Summary, "okx") {
		t.Errorf("trigger inputs not mapped: announce summary %q", stepByID(st, "announce").Summary)
	}
	if r := c.run("approve", id); r.code != 0 {
		t.Fatalf("approve: %s", r.stderr)
	}
	c.waitFor(id, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })

	// The audit trail has the evidence and verifies.
	var recs []audit.Record
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		recs, _ = audit.Load(context.Background(), stack.events.js, id)
		if v := audit.Project(recs); v.Status != "" && v.ClosedAt != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	v := audit.Project(recs)
	if v.Evidence < 1000 {
		t.Errorf("audit has %d evidence records, want ≥1000", v.Evidence)
	}
	if len(v.Approvals) == 0 || v.Approvals[0].Identity != "dana" {
		t.Errorf("audit approvals %+v, want dana", v.Approvals)
	}
	if r := nats("audit", "verify", id); r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Errorf("audit verify: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := nats("report", id, "--format", "md"); r.code != 0 || !strings.Contains(r.stdout, "dana") {
		t.Errorf("report: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func stats(s *devStack) struct{ Started int } {
	st := s.events.consumer.Stats()
	return struct{ Started int }{Started: int(st.Started)}
}
