package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/integrations/temporalcodec"
	"github.com/keyresponse/runbook/workflows"
)

// Given the dev stack (which provisioned its audit key on first start) and
// an incident that ran, was approved by dana and closed,
// When an attacker with publish access to AUDIT appends "approved by
// mallory" after the close, as a perfectly linked unkeyed chain record,
// Then `runbook audit verify` fails and names that record as not
// authenticated by the engine; the chain heads (approval, close) are in
// the incident's Temporal history, and a copy cut off at the end fails
// against them.
func TestE2E_AuditForgedAppendAfterCloseIsNamed(t *testing.T) {
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
	if st, err := os.Stat(auditKeysFile(home)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("audit key file: %v %v, want mode 0600", st, err)
	}
	c := cli{t: t, home: home, temporal: stack.temporal.HostPort()}
	run := func(args ...string) cliResult {
		return c.run(append([]string{"--nats-url", stack.nats.URL(), "--runbooks", "testdata/runbooks"}, args...)...)
	}
	if r := run("event", "send", "--bot", "bot-7", "--kind", "e2e_probe", "--exchange", "okx", "--key-id", "AK-7", "--severity", "critical"); r.code != 0 {
		t.Fatalf("event send: %d %s", r.code, r.stderr)
	}
	const id = "e2e-breach:bot-7"
	c.waitFor(id, "the gate", func(st workflows.IncidentState) bool { return stepByID(st, "gate").Status == workflows.StatusWaiting })
	if r := c.run("approve", id); r.code != 0 {
		t.Fatalf("approve: %s", r.stderr)
	}
	final := c.waitFor(id, "the end", func(st workflows.IncidentState) bool { return st.EndedAt != nil })
	var recs []audit.Record
	waitUntil(t, "the audit trail closes", func() bool {
		recs, _ = audit.Load(context.Background(), stack.events.js, id)
		return audit.Project(recs).ClosedAt != nil
	})
	closed := recs[len(recs)-1]

	// The genuine trail verifies against the engine's key and Temporal.
	ok := run("audit", "verify", id)
	if ok.code != 0 || !strings.Contains(ok.stdout, "OK") || !strings.Contains(ok.stdout, "audit key ids dev-1") {
		t.Fatalf("audit verify of the genuine trail: exit %d\n%s%s", ok.code, ok.stdout, ok.stderr)
	}
	t.Log(ok.stdout)

	// The chain head is in the incident's Temporal history: its result,
	// and the audit write markers at the approval and the close.
	if h := final.AuditHead; h == nil || h.Seq != closed.Seq || h.Hash != closed.Hash || h.Kind != string(audit.IncidentClosed) || h.KeyID != "dev-1" {
		t.Fatalf("incident state's audit head %+v, want #%d %s", final.AuditHead, closed.Seq, closed.Hash)
	}
	kinds := historyHeadKinds(t, stack, id, closed.Run)
	if !kinds[string(audit.ApprovalGranted)] || !kinds[string(audit.IncidentClosed)] {
		t.Fatalf("chain heads in Temporal history: %v, want approval.granted and incident.closed", kinds)
	}

	// A copy cut off before the close fails against the close head.
	dir := t.TempDir()
	full := filepath.Join(dir, "audit.jsonl")
	if r := run("audit", "export", id, "--out", full); r.code != 0 {
		t.Fatalf("export: %s", r.stderr)
	}
	b, _ := os.ReadFile(full)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	cut := filepath.Join(dir, "cut.jsonl")
	if err := os.WriteFile(cut, []byte(strings.Join(lines[:len(lines)-1], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run("audit", "verify", id, "--file", cut); r.code == 0 || !strings.Contains(r.stderr, "removed") || !strings.Contains(r.stderr, "Temporal history") {
		t.Errorf("verify of a copy without its last record: exit %d %s", r.code, r.stderr)
	} else {
		t.Log(strings.TrimSpace(r.stderr))
	}

	// When: the attacker appends through NATS, with a credential that may
	// publish on AUDIT (the admin's: the publisher and operator users
	// cannot, see events/natsauth).
	nc, err := nats.Connect(stack.nats.URL(), devNATSUser(t, home, natsauth.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged := audit.ApprovalDecided(id, "gate", "mallory", "fine by me", true)
	forged.Run, forged.Time = closed.Run, closed.Time.Add(1e9)
	forged.Seal(&closed) // seq, prev_hash and hash exactly as the engine would chain them, minus the key
	data, _ := json.Marshal(forged)
	if err := nc.Publish(audit.Subject(id), data); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the forged record is stored", func() bool {
		recs, _ = audit.Load(context.Background(), stack.events.js, id)
		return len(recs) == int(closed.Seq)+1
	})

	// Then
	r := run("audit", "verify", id)
	if r.code == 0 {
		t.Fatalf("audit verify accepted the forged append:\n%s", r.stdout)
	}
	for _, want := range []string{"record #" + itoa(forged.Seq), "not authenticated by the engine", "approval.granted", "mallory"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("audit verify does not say %q:\n%s", want, r.stderr)
		}
	}
	t.Log(strings.TrimSpace(r.stderr))
	// The readers still show the trail (the forged record included, as
	// stored): status and the timeline keep working.
	if r := run("audit", id); r.code != 0 || !strings.Contains(r.stdout, "mallory") {
		t.Errorf("audit timeline: exit %d %s", r.code, r.stderr)
	}
}

// historyHeadKinds reads the incident's Temporal history as an auditor
// would and returns the kinds of the audit chain heads its audit write
// markers recorded.
func historyHeadKinds(t *testing.T, stack *devStack, id, run string) map[string]bool {
	t.Helper()
	dc := temporalcodec.DataConverter(stack.payloadKeys)
	kinds := map[string]bool{}
	it := stack.client.GetWorkflowHistory(context.Background(), id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		m := ev.GetMarkerRecordedEventAttributes()
		if m == nil || m.GetMarkerName() != "LocalActivity" {
			continue
		}
		var h workflows.AuditHead
		if res, ok := m.GetDetails()["result"]; ok && dc.FromPayloads(res, &h) == nil && h.Seq > 0 {
			kinds[h.Kind] = true
		}
	}
	return kinds
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }
