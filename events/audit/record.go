package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Kind names one sort of fact.
type Kind string

// Every fact the audit trail knows.
const (
	IncidentOpened   Kind = "incident.opened"   // attrs: trigger_event_id, runbook, runbook_hash, trigger, event_time; actor = started_by
	StepStarted      Kind = "step.started"      // attrs: action, attempt
	StepRetried      Kind = "step.retried"      // a started step at attempt > 1
	StepSucceeded    Kind = "step.succeeded"    // attrs: action, attempt, summary, out.* (redacted outputs)
	StepFailed       Kind = "step.failed"       // attrs: action, attempt, error, error_type, final
	StepSkipped      Kind = "step.skipped"      // attrs: reason
	StepCompensated  Kind = "step.compensated"  // attrs: action (the undo), attempt, summary
	ApprovalAsked    Kind = "approval.asked"    // attrs: group, message
	ApprovalGranted  Kind = "approval.granted"  // actor = identity; attrs: comment
	ApprovalDenied   Kind = "approval.denied"   // actor = identity; attrs: comment
	EvidenceAdded    Kind = "evidence.added"    // attrs: event_id, subject
	KeyChanged       Kind = "key.changed"       // attrs: exchange, key_id (masked), fingerprint, change
	NotificationSent Kind = "notification.sent" // attrs: channel, to (masked), message_sid
	IncidentClosed   Kind = "incident.closed"   // attrs: status, error
	// DrillFinding is a key-hygiene finding of a scheduled drill: attrs
	// key_id (masked), finding, exchange, sub_account, detail.
	DrillFinding Kind = "drill.finding"
	// DrillResult is a drill's outcome: attrs mode, runbook, child,
	// result (passed|failed|skipped), reason, time_to_contain,
	// rotation_duration.
	DrillResult Kind = "drill.result"
	// DrillChanged is a change of a drill schedule the drill controller
	// made (recorded under the schedule id): actor = the verified
	// operator; attrs verb, result, fingerprint, policy, note, and for
	// drill.schedule runbook, runbook_hash, mode, spec.
	DrillChanged Kind = "drill.changed"
	// AuthzRefused is a refused control action (a refused Update leaves no
	// history): actor and attrs.operator = who the statement claimed to be
	// (unverified), attrs verb, reason, and group / runbook / trigger /
	// schedule when they apply. Never the statement, a key or a code.
	AuthzRefused Kind = "authz.refused"
)

// Kinds lists every kind, in the order a reader meets them.
var Kinds = []Kind{IncidentOpened, StepStarted, StepRetried, StepSucceeded, StepFailed, StepSkipped, StepCompensated,
	ApprovalAsked, ApprovalGranted, ApprovalDenied, EvidenceAdded, KeyChanged, NotificationSent, IncidentClosed, DrillFinding, DrillResult, DrillChanged, AuthzRefused}

// Known reports whether k is one of Kinds.
func (k Kind) Known() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Record is one fact of one incident, stored as one JSON message on the
// incident's subject. Seq, PrevHash and Hash are set by Store.Append; callers
// fill in the rest (Time defaults to the append time).
//
// Attrs are strings only: the hash is taken over the JSON encoding, and
// strings survive a decode/encode round trip byte for byte where numbers
// (float64) and nested values might not. They are redacted before storing.
type Record struct {
	IncidentID string `json:"incident_id"`
	// Run tells apart occurrences of the same incident id (the id is
	// <runbook>:<bot>, so a bot breached again next month reuses it): the
	// Temporal workflow run id, filled in from the activity context by Hook
	// and RecordActivity. Idempotency keys are scoped to it.
	Run   string            `json:"run,omitempty"`
	Seq   uint64            `json:"seq"`
	Kind  Kind              `json:"kind"`
	Time  time.Time         `json:"time"`
	Step  string            `json:"step,omitempty"`
	Actor string            `json:"actor,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
	// Key is the idempotency key: the same fact written twice (activity
	// retry, workflow replay) carries the same key and is stored once.
	Key      string `json:"key"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	// KeyID and MAC authenticate the record (keys.go): HMAC-SHA256 under
	// the engine's audit key KeyID over the record's canonical bytes (seq
	// and prev_hash included). Both are empty on records written before
	// audit keys, which Verify reports as unauthenticated.
	KeyID string `json:"key_id,omitempty"`
	MAC   string `json:"mac,omitempty"`
}

// Attr returns one attribute ("" when absent).
func (r Record) Attr(k string) string { return r.Attrs[k] }

// ComputeHash returns "sha256:<hex>" over the canonical encoding of r with
// Hash and MAC empty. encoding/json is canonical enough here: struct fields come out
// in declaration order, map keys sorted, times in RFC 3339 with nanoseconds,
// and Append stores times in UTC so a decoded record encodes identically.
// The hash alone proves nothing against someone who can publish on
// audit.*: anyone can compute it. The MAC (keys.go) is what they cannot.
func (r Record) ComputeHash() string { return hashOf(r.canonical()) }

func hashOf(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

var jsonMarshal = json.Marshal

// Seal sets seq, prev_hash and hash so r follows prev in its incident's
// chain (prev nil: r is the first record), without a MAC: what a record
// written before audit keys looked like, and exactly what an attacker
// without the key can compute. Store.Append seals and then signs.
func (r *Record) Seal(prev *Record) {
	r.Time = r.Time.UTC()
	if prev == nil {
		r.Seq, r.PrevHash = 1, ""
	} else {
		r.Seq, r.PrevHash = prev.Seq+1, prev.Hash
	}
	r.KeyID, r.MAC = "", ""
	r.Hash = r.ComputeHash()
}

// SealSigned is Seal followed by the MAC under k's signing key.
func (r *Record) SealSigned(prev *Record, k Keys) error {
	r.Seal(prev)
	return k.sign(r)
}

// Chain seals records in order as one incident's chain without MACs
// (a trail as written before audit keys; tests of the readers use it).
func Chain(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i := range recs {
		out[i] = recs[i]
		if i == 0 {
			out[i].Seal(nil)
		} else {
			out[i].Seal(&out[i-1])
		}
	}
	return out
}

// ChainSigned seals and signs records in order as one incident's chain.
func ChainSigned(recs []Record, k Keys) ([]Record, error) {
	out := make([]Record, len(recs))
	for i := range recs {
		out[i] = recs[i]
		var prev *Record
		if i > 0 {
			prev = &out[i-1]
		}
		if err := out[i].SealSigned(prev, k); err != nil {
			return nil, err
		}
	}
	return out, nil
}
