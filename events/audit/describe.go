package audit

import (
	"fmt"
	"sort"
	"strings"
)

// Describe is one human sentence for a record, shared by the timeline and
// the review report.
func Describe(r Record) string {
	a := r.Attrs
	act := a["action"]
	comp := ""
	if a["compensation"] == "true" {
		comp = "compensation "
	}
	switch r.Kind {
	case IncidentOpened:
		s := fmt.Sprintf("incident opened: runbook %s (%s), trigger %s", a["runbook"], a["runbook_hash"], a["trigger"])
		if a["trigger_event_id"] != "" {
			s += ", event " + a["trigger_event_id"]
		}
		switch {
		case a["started_by_verified"] != "":
			s += ", by " + a["started_by_verified"]
		case r.Actor != "":
			s += ", by " + r.Actor
		}
		if a["adhoc"] == "true" {
			s += ", ad hoc (not a registered runbook)"
		}
		return s
	case StepStarted:
		return fmt.Sprintf("%s%s started (attempt %s)", comp, act, a["attempt"])
	case StepRetried:
		return fmt.Sprintf("%s%s retried (attempt %s)", comp, act, a["attempt"])
	case StepSucceeded:
		return withDetail(fmt.Sprintf("%s succeeded (attempt %s)", act, a["attempt"]), a["summary"])
	case StepFailed:
		s := fmt.Sprintf("%s%s failed (attempt %s)", comp, act, a["attempt"])
		if a["error_type"] != "" {
			s += " " + a["error_type"]
		}
		return withDetail(s, a["error"])
	case StepSkipped:
		return withDetail("skipped", a["reason"])
	case StepCompensated:
		return withDetail(fmt.Sprintf("compensated by %s (attempt %s)", act, a["attempt"]), a["summary"])
	case ApprovalAsked:
		return withDetail("approval asked of "+a["group"], a["message"])
	case ApprovalGranted:
		return withDetail("approved by "+firstNonEmpty(a["verified"], r.Actor), a["comment"])
	case ApprovalDenied:
		return withDetail("denied by "+firstNonEmpty(a["verified"], r.Actor), a["comment"])
	case AuthzRefused:
		who := firstNonEmpty(a["operator"], r.Actor)
		if who == "" {
			who = "unsigned"
		}
		return fmt.Sprintf("REFUSED %s by %s: %s", a["verb"], who, a["reason"])
	case EvidenceAdded:
		return fmt.Sprintf("evidence added: event %s %s", a["event_id"], a["subject"])
	case KeyChanged:
		s := fmt.Sprintf("key %s on %s: %s", a["key_id"], a["exchange"], a["change"])
		if a["fingerprint"] != "" {
			s += " (" + a["fingerprint"] + ")"
		}
		return withDetail(s, a["detail"])
	case NotificationSent:
		s := fmt.Sprintf("%s sent to %s", a["channel"], a["to"])
		if a["message_sid"] != "" {
			s += " (" + a["message_sid"] + ")"
		}
		return s
	case IncidentClosed:
		return withDetail("incident closed: "+a["status"], a["error"])
	case DrillFinding:
		return withDetail(fmt.Sprintf("drill finding %s on key %s (%s %s)", a["finding"], a["key_id"], a["exchange"], a["sub_account"]), a["detail"])
	case DrillResult:
		s := fmt.Sprintf("drill %s (%s, runbook %s as %s)", a["result"], a["mode"], a["runbook"], a["child"])
		if a["time_to_contain"] != "" {
			s += ", time to contain " + a["time_to_contain"]
		}
		if a["rotation_duration"] != "" {
			s += ", rotation " + a["rotation_duration"]
		}
		return withDetail(s, a["reason"])
	case DrillChanged:
		s := fmt.Sprintf("%s %s by %s", a["verb"], a["result"], r.Actor)
		if a["fingerprint"] != "" {
			s += " (" + a["fingerprint"] + ")"
		}
		return withDetail(s, a["note"]+a["reason"])
	}
	return fmt.Sprintf("%s %s", r.Kind, flat(a))
}

func withDetail(s, d string) string {
	if d == "" {
		return s
	}
	return s + ": " + d
}

func flat(a map[string]string) string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + a[k]
	}
	return strings.Join(parts, " ")
}
