package workflows

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// evidenceFacts returns "key|subject" of every evidence.added fact.
func evidenceFacts(l *auditLog) []string {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	var out []string
	for _, f := range l.facts {
		if f.Kind == AuditEvidenceAdded {
			out = append(out, f.Key+"|"+f.Attrs["subject"])
		}
	}
	return out
}

func evidenceIDs(st IncidentState) []string {
	var ids []string
	for _, ev := range st.Evidence {
		ids = append(ids, ev.EventID+"|"+ev.Subject)
	}
	return ids
}

func TestEvidenceBatchIsThreeSignals(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(nil)
	var mid IncidentState
	h.at("1m", func() {
		h.env.SignalWorkflow(SignalEvidenceBatch, []Evidence{
			{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip", Data: map[string]any{"ip": "203.0.113.9"}},
			{EventID: "evt-3", Subject: "breach.bot1.withdrawal_attempt"},
			{EventID: "evt-4", Subject: "breach.bot1.key_leaked"},
		})
	})
	h.at("2m", func() {
		mid = h.query()
		h.update(UpdateApprove, Decision{Identity: "alice"})
	})
	st := h.run(audited(approvalInput(t, "abort")))

	want := []string{"evt-2|breach.bot1.login_unknown_ip", "evt-3|breach.bot1.withdrawal_attempt", "evt-4|breach.bot1.key_leaked"}
	assert.Equal(t, want, evidenceIDs(mid), "the batch is visible while the incident runs, in order")
	assert.Equal(t, want, evidenceIDs(st))
	assert.Equal(t, "203.0.113.9", st.Evidence[0].Data["ip"])
	assert.Equal(t, []string{
		"evidence/evt-2|breach.bot1.login_unknown_ip",
		"evidence/evt-3|breach.bot1.withdrawal_attempt",
		"evidence/evt-4|breach.bot1.key_leaked",
	}, evidenceFacts(l), "one evidence.added fact per element, in order")
}

// Duplicates behave as with single signals: the trigger event (evt-1) is
// already known, an id repeated inside the batch or already signalled on
// its own is dropped, and evidence without an id is always kept (with its
// own audit key).
func TestEvidenceBatchDeduplicatesLikeSingleSignals(t *testing.T) {
	run := func(t *testing.T, signal func(h *harness)) (IncidentState, []string) {
		h := newHarness(t)
		h.ok("bot.freeze", nil)
		h.ok("exchange.revoke_key", nil)
		l := h.auditing(nil)
		h.at("1m", func() { signal(h) })
		h.at("2m", func() { h.update(UpdateApprove, Decision{Identity: "alice"}) })
		st := h.run(audited(approvalInput(t, "abort")))
		return st, evidenceFacts(l)
	}
	evs := []Evidence{
		{EventID: "evt-1", Subject: "breach.bot1.key_leaked"},
		{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"},
		{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"},
		{Subject: "breach.bot1.no_id"},
		{Subject: "breach.bot1.no_id"},
		{EventID: "evt-3", Subject: "breach.bot1.withdrawal_attempt"},
	}
	single, singleFacts := run(t, func(h *harness) {
		for _, ev := range evs {
			h.env.SignalWorkflow(SignalEvidence, ev)
		}
	})
	batch, batchFacts := run(t, func(h *harness) { h.env.SignalWorkflow(SignalEvidenceBatch, evs) })
	want := []string{"evt-2|breach.bot1.login_unknown_ip", "|breach.bot1.no_id", "|breach.bot1.no_id", "evt-3|breach.bot1.withdrawal_attempt"}
	assert.Equal(t, want, evidenceIDs(single))
	assert.Equal(t, want, evidenceIDs(batch), "a batch keeps what the same single signals keep")
	require.Len(t, batchFacts, 4)
	assert.Equal(t, singleFacts, batchFacts, "and records the same facts")

	// A batch after single signals: ids already seen are dropped.
	mixed, mixedFacts := run(t, func(h *harness) {
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"})
		h.env.SignalWorkflow(SignalEvidenceBatch, []Evidence{{EventID: "evt-2", Subject: "x"}, {EventID: "evt-5", Subject: "breach.bot1.y"}})
	})
	assert.Equal(t, []string{"evt-2|breach.bot1.login_unknown_ip", "evt-5|breach.bot1.y"}, evidenceIDs(mixed))
	assert.Len(t, mixedFacts, 2)
}

// An empty batch changes nothing.
func TestEmptyEvidenceBatch(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	h.at("1m", func() { h.env.SignalWorkflow(SignalEvidenceBatch, []Evidence{}) })
	h.at("2m", func() { h.update(UpdateApprove, Decision{Identity: "alice"}) })
	st := h.run(approvalInput(t, "abort"))
	assert.Empty(t, st.Evidence)
	assert.Equal(t, StatusSucceeded, st.Status)
}

// A storm's worth of evidence in one batch is recorded fact by fact, in
// order, but not one local activity per fact: the audit writer hands what
// queued up to audit.record_batch.
func TestEvidenceStormIsRecordedInBatches(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	l := h.auditing(nil)
	var batch []Evidence
	for i := range 250 {
		batch = append(batch, Evidence{EventID: fmt.Sprintf("evt-s%03d", i), Subject: "breach.bot1.key_leaked"})
	}
	h.at("1m", func() { h.env.SignalWorkflow(SignalEvidenceBatch, batch) })
	h.at("2m", func() { h.update(UpdateApprove, Decision{Identity: "alice"}) })
	h.run(audited(approvalInput(t, "abort")))

	facts := evidenceFacts(l)
	if assert.Len(t, facts, 250) {
		assert.Equal(t, "evidence/evt-s000|breach.bot1.key_leaked", facts[0])
		assert.Equal(t, "evidence/evt-s249|breach.bot1.key_leaked", facts[249])
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	inBatches := 0
	for _, n := range l.batches {
		assert.LessOrEqual(t, n, maxAuditBatch)
		inBatches += n
	}
	assert.GreaterOrEqual(t, inBatches, 200, "most of the storm went through audit.record_batch (batches %v)", l.batches)
	assert.Less(t, len(l.batches), 10, "one local activity per up to %d facts, not one per fact", maxAuditBatch)
}
