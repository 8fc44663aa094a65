package audit

// ContainmentActions are the actions that, once succeeded, stop an attacker
// or the bot from doing more harm: the bot stops trading, the leaked key
// is dead, or the leaked key only works from the bot's own IPs. Cancelling
// orders is not in the set: it cleans up but does not lock anyone out.
var ContainmentActions = map[string]bool{
	"bot.freeze":                true,
	"exchange.revoke_key":       true,
	"exchange.set_ip_whitelist": true,
}

// Contains reports whether r marks the incident as contained, and by what.
// The rule, first match wins in record order:
//   - any record with attr contained="true" (an action or the workflow can
//     declare containment explicitly, e.g. a manual step confirmed by on-call);
//   - a step.succeeded record (not a compensation) whose action is in
//     ContainmentActions.
//
// Time to contain is then measured from the breach event's time (recorded
// in incident.opened as event_time) to that record's time, or from the
// opening of the incident when it was started by hand.
func Contains(r Record) (by string, ok bool) {
	if r.Attr("contained") == "true" {
		return firstNonEmpty(r.Step, string(r.Kind)), true
	}
	if r.Kind == StepSucceeded && r.Attr("compensation") != "true" && ContainmentActions[r.Attr("action")] {
		return r.Step + " (" + r.Attr("action") + ")", true
	}
	return "", false
}
