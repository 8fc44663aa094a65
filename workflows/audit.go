package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyresponse/runbook/runbooks/authz"
)

// AuditActivityName is the activity the interpreter records incident-level
// facts through, as a local activity executed by name. The worker registers
// events/audit's RecordActivity.RecordFact under it (see audit_writer.go for
// why RecordFact and not Record).
const AuditActivityName = "audit.record"

// AuditBatchActivityName records several facts, in order, in one local
// activity ([]AuditFact): one marker in history instead of one per fact.
// An alert storm signals hundreds of evidence events into a running
// incident; recorded one local activity each they were most of the cost of
// absorbing it. The worker registers events/audit's
// RecordActivity.RecordFacts under it.
const AuditBatchActivityName = "audit.record_batch"

// auditBatchVersion gates batched audit writes (workflow.GetVersion):
// histories recorded before them replay with one local activity per fact.
const auditBatchVersion = "audit-facts-batched"

// auditHeadVersion gates keeping the audit chain head: from it on, the
// writer decodes the head each audit.record / audit.record_batch local
// activity returns (its result, so already in the marker in history) and
// the incident's state carries the last one. Histories recorded before it
// replay without decoding anything.
const auditHeadVersion = "audit-chain-head"

// maxAuditBatch bounds the facts one local activity records.
const maxAuditBatch = 100

// Kinds of the facts only the workflow knows. The strings are those of
// events/audit.Kind; the action activities' Hook writes the step.* facts
// (started, retried, succeeded, failed, compensated) and key/notification
// facts itself.
const (
	AuditIncidentOpened  = "incident.opened"
	AuditStepSkipped     = "step.skipped"
	AuditApprovalAsked   = "approval.asked"
	AuditApprovalGranted = "approval.granted"
	AuditApprovalDenied  = "approval.denied"
	AuditEvidenceAdded   = "evidence.added"
	AuditIncidentClosed  = "incident.closed"
)

// AuditFact is one incident-level fact. Its JSON is exactly the
// caller-filled part of events/audit.Record (that package pulls in NATS, so
// the workflow cannot import it); seq, prev_hash and hash are set by the
// store. events/audit/workflow_shape_test.go proves the shapes agree.
type AuditFact struct {
	IncidentID string            `json:"incident_id"`
	Run        string            `json:"run,omitempty"`
	Kind       string            `json:"kind"`
	Time       time.Time         `json:"time"`
	Step       string            `json:"step,omitempty"`
	Actor      string            `json:"actor,omitempty"`
	Attrs      map[string]string `json:"attrs,omitempty"`
	// Key is the idempotency key, the same as events/audit's constructors
	// use, so a replayed or retried write lands once.
	Key string `json:"key"`
}

// AuditHead is where an incident's audit chain stood after a write: the
// seq (= records on the subject so far), hash and audit key id of the
// record the write produced. The audit.record activities return it, so it
// is recorded in the incident's own Temporal history (the local activity
// marker) at every workflow-level fact: the opening, each approval asked
// and decided, evidence, and the close. `runbook audit verify` compares the
// AUDIT stream with these heads: records removed from the end, a record
// replaced, or records of the run after its close head are found even by
// someone who can rewrite the stream. events/audit uses this type as
// audit.Head.
type AuditHead struct {
	Run   string `json:"run"`
	Seq   uint64 `json:"seq"`
	Kind  string `json:"kind"`
	Hash  string `json:"hash"`
	KeyID string `json:"key_id,omitempty"`
}

// The constructors mirror events/audit/facts.go (Opened, Skipped,
// ApprovalAskedFact, ApprovalDecided, EvidenceFact, Closed): same kinds,
// attributes and keys. The writer fills in incident, run and time.

func openedFact(in IncidentInput) AuditFact {
	a := map[string]string{"runbook": in.Runbook.Name, "runbook_hash": in.RunbookHash, "trigger": in.Trigger}
	if id := eventString(in.Event, "id"); id != "" {
		a["trigger_event_id"] = id
	}
	if et := eventString(in.Event, "time"); et != "" {
		// Normalise to UTC RFC 3339 like audit.Opened; a time that does
		// not parse is kept as sent rather than lost.
		if t, err := time.Parse(time.RFC3339Nano, et); err == nil {
			et = t.UTC().Format(time.RFC3339Nano)
		}
		a["event_time"] = et
	}
	return AuditFact{Kind: AuditIncidentOpened, Actor: in.StartedBy, Attrs: a, Key: "opened"}
}

// openedFactVerified is openedFact naming who started the incident, as
// proven: a person's start has them as actor; an engine start (event,
// fleet, drill) keeps its source as actor and says the engine signed it.
func openedFactVerified(in IncidentInput, v *authz.Verified) AuditFact {
	f := openedFact(in)
	if v == nil {
		return f
	}
	if v.Operator != authz.EngineName {
		f.Actor = v.Operator
	}
	verifiedAttrs(f.Attrs, []authz.Verified{*v})
	if v.Adhoc {
		f.Attrs["adhoc"] = "true"
	}
	return f
}

// verifiedAttrs records who acted, as proven: names, key fingerprints
// (under "fingerprint", which the audit store's redactor keeps: a
// fingerprint looks like a random token), second factors, relays, and the
// policy version that allowed it.
func verifiedAttrs(a map[string]string, vs []authz.Verified) {
	var names, fps, factors, via []string
	for _, v := range vs {
		names, fps = append(names, v.Operator), append(fps, v.Fingerprint)
		if v.Factor != "" {
			factors = append(factors, v.Factor)
		}
		if v.Via != "" {
			via = append(via, v.Via)
		}
	}
	if len(vs) == 0 {
		return
	}
	a["verified_by"] = strings.Join(names, ", ")
	a["fingerprint"] = strings.Join(fps, ", ")
	if len(factors) > 0 {
		a["factor"] = strings.Join(factors, ", ")
	}
	if len(via) > 0 {
		a["via"] = strings.Join(via, ", ")
	}
	a["policy"] = vs[0].Policy
}

func skippedFact(step, reason string) AuditFact {
	return AuditFact{Kind: AuditStepSkipped, Step: step, Attrs: map[string]string{"reason": reason},
		Key: "step/" + step + "/skipped"}
}

func approvalAskedFact(step, group, message string) AuditFact {
	return AuditFact{Kind: AuditApprovalAsked, Step: step,
		Attrs: map[string]string{"group": group, "message": message}, Key: "approval/" + step + "/asked"}
}

func approvalDecidedFact(step, identity, comment string, granted bool) AuditFact {
	kind, verb := AuditApprovalDenied, "denied"
	if granted {
		kind, verb = AuditApprovalGranted, "granted"
	}
	a := map[string]string{}
	if comment != "" {
		a["comment"] = comment
	}
	return AuditFact{Kind: kind, Step: step, Actor: identity, Attrs: a, Key: "approval/" + step + "/" + verb}
}

// evidenceFact records an evidence signal. Evidence without an event id
// cannot be deduplicated by id; it gets a key from its position among the
// incident's evidence (n) so two such events are not merged into one.
func evidenceFact(eventID, subject string, n int) AuditFact {
	key := "evidence/" + eventID
	if eventID == "" {
		key = fmt.Sprintf("evidence/#%d", n)
	}
	return AuditFact{Kind: AuditEvidenceAdded, Attrs: map[string]string{"event_id": eventID, "subject": subject}, Key: key}
}

func closedFact(status Status, errMsg string) AuditFact {
	a := map[string]string{"status": string(status)}
	if errMsg != "" {
		a["error"] = errMsg
	}
	return AuditFact{Kind: AuditIncidentClosed, Attrs: a, Key: "closed"}
}

// eventString reads a top-level CloudEvent attribute as a string ("" when
// absent).
func eventString(ev map[string]any, key string) string {
	switch v := ev[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(v)
	}
}
