package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEvidenceSignalsAreRecorded(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	var mid IncidentState
	h.at("1m", func() {
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip", Data: map[string]any{"ip": "203.0.113.9"}})
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-3", Subject: "breach.bot1.withdrawal_attempt"})
	})
	h.at("2m", func() {
		mid = h.query()
		h.update(UpdateApprove, Decision{Identity: "alice"})
	})
	st := h.run(approvalInput(t, "abort"))

	require.Len(t, mid.Evidence, 2, "evidence is visible while the incident runs")
	require.Len(t, st.Evidence, 2)
	assert.Equal(t, "evt-2", st.Evidence[0].EventID)
	assert.Equal(t, "203.0.113.9", st.Evidence[0].Data["ip"])
	assert.Equal(t, "breach.bot1.withdrawal_attempt", st.Evidence[1].Subject)
	assert.Zero(t, st.EvidenceDropped)
}

func TestEvidenceIsBounded(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	// Batches of 100: the test environment's callback queue is bounded.
	// The ids ("later-N") differ from the trigger event's ("evt-1"), which
	// would be ignored as a duplicate.
	for b := 0; b*100 < MaxEvidence+5; b++ {
		h.env.RegisterDelayedCallback(func() {
			for i := b * 100; i < min((b+1)*100, MaxEvidence+5); i++ {
				h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: fmt.Sprintf("later-%d", i)})
			}
		}, time.Minute+time.Duration(b)*time.Second)
	}
	h.at("2m", func() { h.update(UpdateApprove, Decision{Identity: "alice"}) })
	st := h.run(approvalInput(t, "abort"))
	require.Len(t, st.Evidence, MaxEvidence)
	assert.Equal(t, 5, st.EvidenceDropped)
	assert.Equal(t, "later-5", st.Evidence[0].EventID, "the oldest are dropped")
	assert.Equal(t, fmt.Sprintf("later-%d", MaxEvidence+4), st.Evidence[MaxEvidence-1].EventID)
}

func TestEvidenceIsDeduplicatedByEventID(t *testing.T) {
	h := newHarness(t)
	h.ok("bot.freeze", nil)
	h.ok("exchange.revoke_key", nil)
	h.at("1m", func() {
		// SignalWithStart delivers the trigger event (evt-1) as evidence;
		// a redelivered NATS message signals evt-2 twice; events without
		// an id cannot be told apart and are all kept.
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-1", Subject: "breach.bot1.key_leaked"})
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"})
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-2", Subject: "breach.bot1.login_unknown_ip"})
		h.env.SignalWorkflow(SignalEvidence, Evidence{Subject: "breach.bot1.no_id"})
		h.env.SignalWorkflow(SignalEvidence, Evidence{Subject: "breach.bot1.no_id"})
	})
	h.at("2m", func() {
		h.env.SignalWorkflow(SignalEvidence, Evidence{EventID: "evt-2"}) // later redelivery
		h.update(UpdateApprove, Decision{Identity: "alice"})
	})
	st := h.run(approvalInput(t, "abort"))
	var ids []string
	for _, ev := range st.Evidence {
		ids = append(ids, ev.EventID+"|"+ev.Subject)
	}
	assert.Equal(t, []string{"evt-2|breach.bot1.login_unknown_ip", "|breach.bot1.no_id", "|breach.bot1.no_id"}, ids)
}

func TestEvidenceDedupSetIsBounded(t *testing.T) {
	r := &run{seen: map[string]struct{}{}}
	r.markSeen("trigger") // as newRun does with the trigger event's id
	require.False(t, r.addEvidence(Evidence{EventID: "trigger"}))
	for i := range seenEvidenceLimit {
		require.True(t, r.addEvidence(Evidence{EventID: fmt.Sprint(i)}))
	}
	assert.Len(t, r.seen, seenEvidenceLimit)
	assert.Len(t, r.seenOrder, seenEvidenceLimit)
	assert.False(t, r.addEvidence(Evidence{EventID: fmt.Sprint(seenEvidenceLimit - 1)}), "recent ids are remembered")
	assert.True(t, r.addEvidence(Evidence{EventID: "trigger"}), "the oldest id was forgotten to keep the set bounded")
	assert.Len(t, r.seen, seenEvidenceLimit)
}
