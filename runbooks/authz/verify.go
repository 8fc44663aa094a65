package authz

import (
	"crypto/hmac"
	"fmt"
	"strings"
	"time"
)

// Request is what the checker knows about the action being attempted —
// never taken from the statement, always from the incident itself.
type Request struct {
	Verb     Verb
	Incident string
	Run      string // the run being acted on (empty for exec)
	Step     string // approve/deny: the gate that is waiting
	Group    string // approve/deny: the gate's approval group
	// SecondFactor the gate requires (approve only): "", FactorTOTP, FactorSMS.
	SecondFactor string
	// FactorIssuedAt is when the gate texted its SMS codes.
	FactorIssuedAt time.Time
	// exec and drill: what is starting. Definition is computed by the
	// checker from what will run (runbooks.DefinitionDigest), never copied
	// from the statement; RunbookHash is the source file's hash, as recorded.
	Runbook, RunbookHash, Definition, Inputs, Options string
	Trigger                                           string // exec: manual, event, fleet, drill
	Schedule                                          string
	Evidence                                          string // evidence: DataHash of the payload
	Now                                               time.Time
	Signed                                            *Signed
}

// Verified is who did something, as proven. It is what history, the audit
// trail, status and the report show.
type Verified struct {
	Verb        Verb     `json:"verb"`
	Operator    string   `json:"operator"`
	Fingerprint string   `json:"fingerprint"` // of the key that signed
	Roles       []string `json:"roles,omitempty"`
	// Via is EngineName when the engine relayed the action (SMS reply).
	Via        string    `json:"via,omitempty"`
	Factor     string    `json:"factor,omitempty"`      // second factor that was checked
	FactorStep int64     `json:"factor_step,omitempty"` // TOTP time step used (single use)
	Adhoc      bool      `json:"adhoc,omitempty"`       // exec of a runbook the worker does not know
	Nonce      string    `json:"nonce"`
	Comment    string    `json:"comment,omitempty"`
	IssuedAt   time.Time `json:"issued_at"`
	Policy     string    `json:"policy"` // Compiled.Version that allowed it
}

// String is the one-line form: "alice (SHA256:…, totp)".
func (v Verified) String() string {
	var extra []string
	if v.Fingerprint != "" {
		extra = append(extra, v.Fingerprint)
	}
	if v.Factor != "" {
		extra = append(extra, v.Factor)
	}
	if v.Via != "" {
		extra = append(extra, "via "+v.Via)
	}
	if len(extra) == 0 {
		return v.Operator
	}
	return v.Operator + " (" + strings.Join(extra, ", ") + ")"
}

// Refusal is why an attempt was refused; its text is what the operator sees
// and what the audit trail records.
type Refusal struct {
	Verb     Verb   `json:"verb"`
	Operator string `json:"operator,omitempty"` // who the statement claims to be (unverified)
	Reason   string `json:"reason"`
}

func (r *Refusal) Error() string {
	if r.Operator != "" {
		return fmt.Sprintf("%s refused for %s: %s", r.Verb, r.Operator, r.Reason)
	}
	return fmt.Sprintf("%s refused: %s", r.Verb, r.Reason)
}

// Secrets are the second-factor secrets: the worker's, never in history.
type Secrets interface {
	TOTPSecret(operator string) ([]byte, bool)
	SMSCodeKey() []byte
}

// Authorize verifies a signed statement for req and returns who it was.
// Single use is the caller's: it must refuse a Nonce (and a TOTP
// FactorStep of the same operator) it has already accepted.
func (c *Compiled) Authorize(req Request, sec Secrets) (Verified, error) {
	refuse := func(who, f string, a ...any) (Verified, error) {
		return Verified{}, &Refusal{Verb: req.Verb, Operator: who, Reason: fmt.Sprintf(f, a...)}
	}
	if req.Signed == nil || req.Signed.Statement == "" {
		return refuse("", "not signed: every %s needs a statement signed with an operator's key (see `runbook operator`)", req.Verb)
	}
	st, err := req.Signed.Decode()
	if err != nil {
		return refuse("", "%v", err)
	}
	who := st.Operator
	pub, err := verifySSHSIG(req.Signed.Signature, []byte(req.Signed.Statement))
	if err != nil {
		return refuse(who, "%v", err)
	}
	if who != EngineName && c.ops[who] == nil {
		return refuse(who, "%q is not in the roster (key %s)", who, Fingerprint(pub))
	}
	if !c.principalHas(who, pub) {
		if owner := c.KeyOwner(pub); owner != "" {
			return refuse(who, "signed with %s's key %s, not %s's: nobody acts under another's name", owner, Fingerprint(pub), who)
		}
		return refuse(who, "key %s is not one of %s's keys in the roster", Fingerprint(pub), who)
	}
	if st.Verb != req.Verb {
		return refuse(who, "the statement is for %q, not %q", st.Verb, req.Verb)
	}
	if err := bind(st, req); err != "" {
		return refuse(who, "%s", err)
	}
	maxAge := c.p.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if st.Verb == VerbDrillSchedule {
		maxAge = MaxDrillAge
	}
	if who == EngineName {
		maxAge = min(maxAge, MaxEngineAge)
	}
	switch {
	case st.IssuedAt.IsZero() || st.Expires.IsZero():
		return refuse(who, "issued_at and expires are required")
	case st.IssuedAt.After(req.Now.Add(ClockSkew)):
		return refuse(who, "issued at %s, in the future (clock skew above %s?)", st.IssuedAt.UTC().Format(time.RFC3339), ClockSkew)
	case !req.Now.Before(st.Expires):
		return refuse(who, "expired at %s", st.Expires.UTC().Format(time.RFC3339))
	case st.Expires.Sub(st.IssuedAt) > maxAge:
		return refuse(who, "valid for %s, longer than the %s allowed", st.Expires.Sub(st.IssuedAt), maxAge)
	case len(st.Nonce) < MinNonce:
		return refuse(who, "nonce shorter than %d characters", MinNonce)
	}
	v := Verified{Verb: st.Verb, Operator: who, Fingerprint: Fingerprint(pub), Nonce: st.Nonce,
		Comment: st.Comment, IssuedAt: st.IssuedAt, Policy: c.version}
	actor := who
	if who == EngineName {
		if reason := c.engineMay(st, req); reason != "" {
			return refuse(who, "%s", reason)
		}
		if st.OnBehalfOf == "" {
			return v, nil
		}
		actor, v.Via, v.Operator = st.OnBehalfOf, EngineName, st.OnBehalfOf
		who = st.OnBehalfOf
		if c.ops[actor] == nil {
			return refuse(who, "%q is not in the roster", actor)
		}
	} else if st.OnBehalfOf != "" {
		return refuse(who, "only the engine relays decisions on behalf of others")
	}
	co := c.ops[actor]
	v.Roles = append([]string(nil), co.op.Roles...)
	p := co.perms
	switch req.Verb {
	case VerbExec:
		if req.Trigger != "manual" && req.Trigger != "" {
			return refuse(who, "operators start incidents by hand (trigger manual), not %q", req.Trigger)
		}
		if !p.CanExec(req.Runbook) {
			return refuse(who, "no role of %s (%s) may exec runbook %s", actor, strings.Join(co.op.Roles, ", "), req.Runbook)
		}
		if !c.Registered(req.Runbook, req.Definition) {
			if !p.Adhoc {
				return refuse(who, "runbook %s (%s) is not registered with the engine: running an ad-hoc file needs the adhoc permission", req.Runbook, req.RunbookHash)
			}
			v.Adhoc = true
		}
	case VerbApprove, VerbDeny:
		if !p.CanApprove(req.Group) {
			return refuse(who, "%s is not an approver of group %q (roles: %s)", actor, req.Group, strings.Join(co.op.Roles, ", "))
		}
		if v.Via == EngineName && (req.Verb == VerbDeny || req.SecondFactor == "") {
			// A relayed reply proves the person only by the code they were
			// texted; sms gates' approvals are checked by checkFactor.
			if reason := replyCodeReason(actor, st, req, sec); reason != "" {
				return refuse(who, "%s", reason)
			}
			v.Factor = FactorSMSReply
		}
		if req.Verb == VerbApprove && req.SecondFactor != "" {
			f, step, reason := c.checkFactor(actor, st, req, sec)
			if reason != "" {
				return refuse(who, "%s", reason)
			}
			v.Factor, v.FactorStep = f, step
		}
	case VerbAbort:
		if !p.Abort {
			return refuse(who, "no role of %s (%s) may abort", actor, strings.Join(co.op.Roles, ", "))
		}
	case VerbEvidence:
		if !p.Evidence {
			return refuse(who, "no role of %s (%s) may add evidence", actor, strings.Join(co.op.Roles, ", "))
		}
	default:
		if !req.Verb.IsDrill() {
			return refuse(who, "unknown verb %q", req.Verb)
		}
		if !p.Drill {
			return refuse(who, "no role of %s (%s) may change drills", actor, strings.Join(co.op.Roles, ", "))
		}
		if req.Verb == VerbDrillSchedule && !c.Registered(req.Runbook, req.Definition) && !p.Adhoc {
			return refuse(who, "runbook %s (%s) is not registered with the engine: a drill of an ad-hoc file needs the adhoc permission", req.Runbook, req.RunbookHash)
		}
	}
	return v, nil
}

// bind checks that the statement names exactly the action attempted.
func bind(st Statement, req Request) string {
	eq := func(field, got, want string) string {
		if got != want {
			return fmt.Sprintf("the statement's %s is %q, this is %q", field, got, want)
		}
		return ""
	}
	checks := []string{eq("incident", st.Incident, req.Incident)}
	switch req.Verb {
	case VerbExec:
		if st.Run != "" {
			checks = append(checks, "an exec statement names no run")
		}
		checks = append(checks, eq("runbook", st.Runbook, req.Runbook), eq("runbook_hash", st.RunbookHash, req.RunbookHash),
			eq("definition", st.Definition, req.Definition), eq("inputs", st.Inputs, req.Inputs),
			eq("options", st.Options, req.Options), eq("trigger", st.Trigger, req.Trigger))
	case VerbApprove, VerbDeny:
		checks = append(checks, eq("run", st.Run, req.Run), eq("step", st.Step, req.Step))
	case VerbAbort:
		checks = append(checks, eq("run", st.Run, req.Run))
	case VerbEvidence:
		checks = append(checks, eq("run", st.Run, req.Run), eq("evidence", st.Evidence, req.Evidence))
	case VerbDrillSchedule:
		checks = append(checks, eq("schedule", st.Schedule, req.Schedule), eq("runbook", st.Runbook, req.Runbook),
			eq("runbook_hash", st.RunbookHash, req.RunbookHash), eq("definition", st.Definition, req.Definition), eq("inputs", st.Inputs, req.Inputs))
	default:
		checks = append(checks, eq("schedule", st.Schedule, req.Schedule))
	}
	for _, c := range checks {
		if c != "" {
			return c
		}
	}
	return ""
}

// engineMay is what the engine's own key may sign: starts from events and
// fleets of registered runbooks, evidence, and SMS replies it relays.
func (c *Compiled) engineMay(st Statement, req Request) string {
	switch req.Verb {
	case VerbExec:
		if req.Trigger != "event" && req.Trigger != "fleet" && req.Trigger != "drill" {
			return fmt.Sprintf("the engine starts incidents from events, fleets and drills, not %q", req.Trigger)
		}
		if !c.Registered(req.Runbook, req.Definition) {
			return fmt.Sprintf("runbook %s (%s) is not registered: the engine starts registered runbooks only", req.Runbook, req.RunbookHash)
		}
		if st.OnBehalfOf != "" {
			return "an engine start is on nobody's behalf"
		}
	case VerbEvidence:
		if st.OnBehalfOf != "" {
			return "engine evidence is on nobody's behalf"
		}
	case VerbApprove, VerbDeny:
		if st.OnBehalfOf == "" || st.Factor == nil || st.Factor.Kind != FactorSMSReply {
			return "the engine answers gates only by relaying an operator's SMS reply"
		}
	default:
		return fmt.Sprintf("the engine may not %s", req.Verb)
	}
	return ""
}

// checkFactor verifies the second factor a gate requires.
func (c *Compiled) checkFactor(op string, st Statement, req Request, sec Secrets) (kind string, step int64, reason string) {
	f := st.Factor
	if f == nil {
		return "", 0, fmt.Sprintf("gate %s needs a second factor (%s): none given", req.Step, req.SecondFactor)
	}
	switch req.SecondFactor {
	case FactorTOTP:
		if f.Kind != FactorTOTP {
			return "", 0, fmt.Sprintf("gate %s needs a TOTP code, got %q", req.Step, f.Kind)
		}
		if sec == nil {
			return "", 0, "no TOTP secrets are configured on the worker"
		}
		secret, ok := sec.TOTPSecret(op)
		if !ok {
			return "", 0, fmt.Sprintf("%s has no TOTP secret enrolled", op)
		}
		n, ok := CheckTOTP(secret, f.Code, req.Now)
		if !ok {
			return "", 0, "wrong or expired TOTP code"
		}
		return FactorTOTP, n, ""
	case FactorSMS:
		if f.Kind != FactorSMS && f.Kind != FactorSMSReply {
			return "", 0, fmt.Sprintf("gate %s needs the code texted to %s, got %q", req.Step, op, f.Kind)
		}
		if sec == nil || len(sec.SMSCodeKey()) < MinSMSCodeKey {
			return "", 0, "no SMS code key is configured on the worker"
		}
		if req.FactorIssuedAt.IsZero() {
			return "", 0, fmt.Sprintf("gate %s has not texted its codes yet", req.Step)
		}
		if !req.Now.Before(req.FactorIssuedAt.Add(SMSCodeTTL)) {
			return "", 0, fmt.Sprintf("the SMS code expired at %s", req.FactorIssuedAt.Add(SMSCodeTTL).UTC().Format(time.RFC3339))
		}
		want := SMSFactorCode(sec.SMSCodeKey(), op, req.Incident, req.Run, req.Step, req.FactorIssuedAt)
		if !hmac.Equal([]byte(strings.ToUpper(strings.TrimSpace(f.Code))), []byte(want)) {
			return "", 0, "wrong SMS code (codes are per person, gate and run)"
		}
		return f.Kind, 0, ""
	}
	return "", 0, fmt.Sprintf("gate %s requires an unknown second factor %q", req.Step, req.SecondFactor)
}

// replyCodeReason checks the code an engine-relayed SMS reply carries: the
// one texted to actor for this gate and run (OperatorReplyCode), or, when
// the gate texted SMS factor codes, that code within its lifetime.
func replyCodeReason(actor string, st Statement, req Request, sec Secrets) string {
	if sec == nil || len(sec.SMSCodeKey()) < MinSMSCodeKey {
		return "no SMS code key is configured on the worker: relayed replies cannot be checked"
	}
	code := ""
	if st.Factor != nil {
		code = strings.ToUpper(strings.TrimSpace(st.Factor.Code))
	}
	key := sec.SMSCodeKey()
	if hmac.Equal([]byte(code), []byte(OperatorReplyCode(key, actor, req.Incident, req.Run, req.Step))) {
		return ""
	}
	if !req.FactorIssuedAt.IsZero() && req.Now.Before(req.FactorIssuedAt.Add(SMSCodeTTL)) &&
		hmac.Equal([]byte(code), []byte(SMSFactorCode(key, actor, req.Incident, req.Run, req.Step, req.FactorIssuedAt))) {
		return ""
	}
	return fmt.Sprintf("the relayed reply does not carry the code texted to %s for gate %s of this run", actor, req.Step)
}
