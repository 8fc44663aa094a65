package authz

// Verb is the control action a statement authorizes.
type Verb string

// The verbs. Each Update, start and drill change names exactly one; a
// statement signed for one verb never passes as another.
const (
	VerbExec     Verb = "exec"     // start an incident (manual, event, fleet)
	VerbApprove  Verb = "approve"  // approve a gate
	VerbDeny     Verb = "deny"     // deny a gate
	VerbAbort    Verb = "abort"    // abort an incident
	VerbEvidence Verb = "evidence" // add manual evidence to a running incident

	VerbDrillSchedule Verb = "drill.schedule" // create or replace a drill schedule; its runs carry this statement
	VerbDrillPause    Verb = "drill.pause"
	VerbDrillUnpause  Verb = "drill.unpause"
	VerbDrillDelete   Verb = "drill.delete"
	VerbDrillTrigger  Verb = "drill.trigger"
)

// Verbs lists every verb (docs, CLI help, tests).
var Verbs = []Verb{VerbExec, VerbApprove, VerbDeny, VerbAbort, VerbEvidence,
	VerbDrillSchedule, VerbDrillPause, VerbDrillUnpause, VerbDrillDelete, VerbDrillTrigger}

// IsDrill reports whether v changes a drill schedule.
func (v Verb) IsDrill() bool {
	switch v {
	case VerbDrillSchedule, VerbDrillPause, VerbDrillUnpause, VerbDrillDelete, VerbDrillTrigger:
		return true
	}
	return false
}

func (v Verb) known() bool {
	for _, k := range Verbs {
		if k == v {
			return true
		}
	}
	return false
}

// Second factors a gate can require (runbooks.Approval.SecondFactor) and a
// statement can carry (Factor.Kind).
const (
	FactorTOTP = "totp" // RFC 6238 code from the operator's authenticator
	FactorSMS  = "sms"  // code texted to the operator's roster phone for this gate and run
	// FactorSMSReply is an answer texted back from the operator's roster
	// phone, relayed by the engine's Twilio webhook (signed by the engine).
	FactorSMSReply = "sms-reply"
)
