package audit

import (
	"fmt"
	"time"
)

// The constructors below build one record per fact with its idempotency key.
// The key is derived from what identifies the fact (step and attempt, event
// id, approval gate), never from the time, so the workflow and activities
// can write the same fact again after a retry or replay and it lands once.

// OpenedFacts describes how an incident started.
type OpenedFacts struct {
	TriggerEventID string
	Runbook        string
	RunbookHash    string
	// Trigger is "event", "manual" or "drill".
	Trigger   string
	StartedBy string
	// EventTime is when the breach event happened (its CloudEvent time);
	// time to contain is measured from it. Zero for manual starts.
	EventTime time.Time
}

// Opened is the first fact of an incident.
func Opened(incident string, f OpenedFacts) Record {
	a := map[string]string{"runbook": f.Runbook, "runbook_hash": f.RunbookHash, "trigger": f.Trigger}
	if f.TriggerEventID != "" {
		a["trigger_event_id"] = f.TriggerEventID
	}
	if !f.EventTime.IsZero() {
		a["event_time"] = f.EventTime.UTC().Format(time.RFC3339Nano)
	}
	return Record{IncidentID: incident, Kind: IncidentOpened, Actor: f.StartedBy, Attrs: a, Key: "opened"}
}

// StepKey is the idempotency key of a step fact: incident-scoped, so the
// step id, attempt and kind identify it. Compensations get their own space
// because they reuse the step id of the step they undo.
func StepKey(step string, attempt int32, kind Kind, compensation bool) string {
	if compensation {
		return fmt.Sprintf("step/%s/compensation/%d/%s", step, attempt, kind)
	}
	return fmt.Sprintf("step/%s/%d/%s", step, attempt, kind)
}

// StepFact is a step started / retried / succeeded / failed / compensated.
func StepFact(incident, step string, kind Kind, attempt int32, compensation bool, attrs map[string]string) Record {
	a := map[string]string{"attempt": fmt.Sprint(attempt)}
	for k, v := range attrs {
		a[k] = v
	}
	if compensation {
		a["compensation"] = "true"
	}
	return Record{IncidentID: incident, Kind: kind, Step: step, Attrs: a, Key: StepKey(step, attempt, kind, compensation)}
}

// Skipped records a step whose condition was false (or whose gate timed
// out with on_timeout: skip).
func Skipped(incident, step, reason string) Record {
	return Record{IncidentID: incident, Kind: StepSkipped, Step: step, Attrs: map[string]string{"reason": reason},
		Key: "step/" + step + "/skipped"}
}

// ApprovalAskedFact records that a gate is waiting for group.
func ApprovalAskedFact(incident, step, group, message string) Record {
	return Record{IncidentID: incident, Kind: ApprovalAsked, Step: step,
		Attrs: map[string]string{"group": group, "message": message}, Key: "approval/" + step + "/asked"}
}

// ApprovalDecided records who granted or denied a gate, and why.
func ApprovalDecided(incident, step, identity, comment string, granted bool) Record {
	kind, verb := ApprovalDenied, "denied"
	if granted {
		kind, verb = ApprovalGranted, "granted"
	}
	a := map[string]string{}
	if comment != "" {
		a["comment"] = comment
	}
	return Record{IncidentID: incident, Kind: kind, Step: step, Actor: identity, Attrs: a,
		Key: "approval/" + step + "/" + verb}
}

// EvidenceFact records a later event signalled into a running incident.
func EvidenceFact(incident, eventID, subject string) Record {
	return Record{IncidentID: incident, Kind: EvidenceAdded,
		Attrs: map[string]string{"event_id": eventID, "subject": subject}, Key: "evidence/" + eventID}
}

// KeyChange says what happened to one exchange key.
type KeyChange struct {
	Exchange string
	// KeyID is masked before storing; Fingerprint identifies the key fully
	// without revealing it.
	KeyID       string
	Fingerprint string
	// Change is what was done: "revoked", "created", "ip whitelist", "permissions".
	Change string
	// Detail is a short human description (new IPs, permission set).
	Detail string
}

// KeyChangedFact records a change made to an exchange key.
func KeyChangedFact(incident, step string, c KeyChange) Record {
	a := map[string]string{"exchange": c.Exchange, "key_id": c.KeyID, "change": c.Change}
	if c.Fingerprint != "" {
		a["fingerprint"] = c.Fingerprint
	}
	if c.Detail != "" {
		a["detail"] = c.Detail
	}
	return Record{IncidentID: incident, Kind: KeyChanged, Step: step, Attrs: a,
		Key: "key/" + step + "/" + c.Change + "/" + c.Fingerprint + c.KeyID}
}

// Notification is one message sent to a person.
type Notification struct {
	Channel   string // "sms", "console", …
	To        string // masked before storing
	MessageID string
}

// NotificationFact records a notification that was sent.
func NotificationFact(incident, step string, n Notification) Record {
	a := map[string]string{"channel": n.Channel, "to": n.To}
	if n.MessageID != "" {
		a["message_sid"] = n.MessageID
	}
	return Record{IncidentID: incident, Kind: NotificationSent, Step: step, Attrs: a,
		Key: "notify/" + step + "/" + n.Channel + "/" + n.To}
}

// Closed is the last fact of an incident: its final status.
func Closed(incident, status, errMsg string) Record {
	a := map[string]string{"status": status}
	if errMsg != "" {
		a["error"] = errMsg
	}
	return Record{IncidentID: incident, Kind: IncidentClosed, Attrs: a, Key: "closed"}
}
