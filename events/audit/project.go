package audit

import (
	"sort"
	"strconv"
	"time"
)

// Status strings of the projection. They match workflows.Status values so
// the CLI shows one vocabulary (this package must not import workflows).
const (
	StatusRunning   = "running"
	StatusWaiting   = "waiting-approval"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
	StatusDenied    = "denied"
	StatusGranted   = "granted"
	StatusRetrying  = "retrying"
	StatusCompens   = "compensated"
)

// IncidentView is an incident as rebuilt from its audit records: what
// `runbook status` and `list` show and the review report starts from.
type IncidentView struct {
	IncidentID     string `json:"incident_id"`
	Run            string `json:"run,omitempty"`
	Runbook        string `json:"runbook"`
	RunbookHash    string `json:"runbook_hash"`
	Trigger        string `json:"trigger"`
	TriggerEventID string `json:"trigger_event_id,omitempty"`
	StartedBy      string `json:"started_by,omitempty"`
	// StartedByVerified is who started it as the worker proved it ("alice
	// (SHA256:…)"); Adhoc is set when the runbook was not registered.
	StartedByVerified string `json:"started_by_verified,omitempty"`
	Adhoc             bool   `json:"adhoc,omitempty"`
	Status            string `json:"status"`
	Error             string `json:"error,omitempty"`

	EventTime   *time.Time `json:"event_time,omitempty"` // breach event time, when known
	OpenedAt    time.Time  `json:"opened_at"`
	ContainedAt *time.Time `json:"contained_at,omitempty"`
	// ContainedBy names the step (or record) that met the containment rule.
	ContainedBy string     `json:"contained_by,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`

	Steps         []StepView         `json:"steps"`
	Approvals     []ApprovalView     `json:"approvals,omitempty"`
	Evidence      int                `json:"evidence"`
	KeysChanged   []KeyChangeView    `json:"keys_changed,omitempty"`
	Notifications []NotificationView `json:"notifications,omitempty"`
	// Refusals are the attempts refused (records of kind authz.refused).
	Refusals []RefusalView `json:"refusals,omitempty"`

	Records  int    `json:"records"`
	LastHash string `json:"last_hash"`
}

// TimeToContain is from the breach event (or, without one, the opening of
// the incident) to containment; ok is false until contained.
func (v IncidentView) TimeToContain() (d time.Duration, from string, ok bool) {
	if v.ContainedAt == nil {
		return 0, "", false
	}
	if v.EventTime != nil {
		return v.ContainedAt.Sub(*v.EventTime), "event", true
	}
	return v.ContainedAt.Sub(v.OpenedAt), "opened", true
}

// StepView is one step's state from its records.
type StepView struct {
	ID          string     `json:"id"`
	Action      string     `json:"action,omitempty"`
	Status      string     `json:"status"`
	Attempts    int32      `json:"attempts"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	Summary     string     `json:"summary,omitempty"`
	Error       string     `json:"error,omitempty"`
	Compensated bool       `json:"compensated,omitempty"`
	// CompensationError is set when the undo of this step failed (its
	// last attempt); a later successful compensation clears it.
	CompensationError string `json:"compensation_error,omitempty"`
}

// ApprovalView is one gate: who was asked, who answered.
type ApprovalView struct {
	Step     string `json:"step"`
	Group    string `json:"group,omitempty"`
	Message  string `json:"message,omitempty"`
	Status   string `json:"status"` // waiting-approval, granted, denied
	Identity string `json:"identity,omitempty"`
	// Verified is who decided as proven: name, key fingerprint and second
	// factor of each ("alice (SHA256:…, totp), bob (SHA256:…)").
	Verified  string     `json:"verified,omitempty"`
	Comment   string     `json:"comment,omitempty"`
	AskedAt   *time.Time `json:"asked_at,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
}

// RefusalView is one refused attempt.
type RefusalView struct {
	Time     time.Time `json:"time"`
	Step     string    `json:"step,omitempty"`
	Verb     string    `json:"verb"`
	Operator string    `json:"operator,omitempty"` // as claimed, unverified
	Reason   string    `json:"reason"`
}

// KeyChangeView is one change to an exchange key.
type KeyChangeView struct {
	Time        time.Time `json:"time"`
	Step        string    `json:"step,omitempty"`
	Exchange    string    `json:"exchange"`
	KeyID       string    `json:"key_id"` // masked
	Fingerprint string    `json:"fingerprint,omitempty"`
	Change      string    `json:"change"`
	Detail      string    `json:"detail,omitempty"`
}

// NotificationView is one message sent.
type NotificationView struct {
	Time      time.Time `json:"time"`
	Step      string    `json:"step,omitempty"`
	Channel   string    `json:"channel"`
	To        string    `json:"to"`
	MessageID string    `json:"message_id,omitempty"`
}

// Project folds the records of one occurrence (see Runs) into its view. It
// trusts the records' order; run Verify first when integrity matters.
func Project(recs []Record) IncidentView {
	var v IncidentView
	steps := map[string]int{}
	step := func(id string) *StepView {
		i, ok := steps[id]
		if !ok {
			i = len(v.Steps)
			steps[id] = i
			v.Steps = append(v.Steps, StepView{ID: id, Status: StatusRunning})
		}
		return &v.Steps[i]
	}
	gates := map[string]int{}
	gate := func(id string) *ApprovalView {
		i, ok := gates[id]
		if !ok {
			i = len(v.Approvals)
			gates[id] = i
			v.Approvals = append(v.Approvals, ApprovalView{Step: id, Status: StatusWaiting})
		}
		return &v.Approvals[i]
	}
	v.Status = StatusRunning
	for _, r := range recs {
		t := r.Time
		v.Records++
		v.LastHash = r.Hash
		if v.IncidentID == "" {
			v.IncidentID, v.Run = r.IncidentID, r.Run
		}
		if v.OpenedAt.IsZero() {
			v.OpenedAt = t
		}
		comp := r.Attr("compensation") == "true"
		switch r.Kind {
		case IncidentOpened:
			v.OpenedAt = t
			v.Runbook, v.RunbookHash, v.Trigger = r.Attr("runbook"), r.Attr("runbook_hash"), r.Attr("trigger")
			v.TriggerEventID, v.StartedBy = r.Attr("trigger_event_id"), r.Actor
			v.StartedByVerified, v.Adhoc = r.Attr("started_by_verified"), r.Attr("adhoc") == "true"
			if et, err := time.Parse(time.RFC3339Nano, r.Attr("event_time")); err == nil {
				v.EventTime = &et
			}
		case StepStarted, StepRetried:
			if comp {
				continue
			}
			s := step(r.Step)
			s.Action = firstNonEmpty(s.Action, r.Attr("action"))
			s.Status = StatusRunning
			s.Attempts = max(s.Attempts, attempt(r))
			if s.StartedAt == nil {
				s.StartedAt = &t
			}
			s.EndedAt = nil
		case StepSucceeded:
			if comp {
				continue
			}
			s := step(r.Step)
			s.Action = firstNonEmpty(s.Action, r.Attr("action"))
			s.Status, s.Summary, s.Error = StatusSucceeded, r.Attr("summary"), ""
			s.Attempts = max(s.Attempts, attempt(r))
			s.EndedAt = &t
		case StepFailed:
			if comp {
				step(r.Step).CompensationError = r.Attr("error")
				continue
			}
			s := step(r.Step)
			s.Action = firstNonEmpty(s.Action, r.Attr("action"))
			s.Attempts = max(s.Attempts, attempt(r))
			s.Error = r.Attr("error")
			s.EndedAt = &t
			s.Status = StatusFailed
			if r.Attr("final") == "false" {
				s.Status = StatusRetrying
			}
		case StepSkipped:
			s := step(r.Step)
			s.Status, s.Summary = StatusSkipped, r.Attr("reason")
			s.EndedAt = &t
		case StepCompensated:
			s := step(r.Step)
			s.Compensated, s.CompensationError = true, ""
			s.Status = StatusCompens
		case ApprovalAsked:
			g := gate(r.Step)
			g.Group, g.Message, g.AskedAt = r.Attr("group"), r.Attr("message"), &t
		case ApprovalGranted, ApprovalDenied:
			g := gate(r.Step)
			g.Status, g.Identity, g.Comment, g.DecidedAt = StatusGranted, r.Actor, r.Attr("comment"), &t
			g.Verified = r.Attr("verified")
			if r.Kind == ApprovalDenied {
				g.Status = StatusDenied
			}
		case AuthzRefused:
			v.Refusals = append(v.Refusals, RefusalView{Time: t, Step: r.Step, Verb: r.Attr("verb"),
				Operator: firstNonEmpty(r.Attr("operator"), r.Actor), Reason: r.Attr("reason")})
		case EvidenceAdded:
			v.Evidence++
		case KeyChanged:
			v.KeysChanged = append(v.KeysChanged, KeyChangeView{Time: t, Step: r.Step, Exchange: r.Attr("exchange"),
				KeyID: r.Attr("key_id"), Fingerprint: r.Attr("fingerprint"), Change: r.Attr("change"), Detail: r.Attr("detail")})
		case NotificationSent:
			v.Notifications = append(v.Notifications, NotificationView{Time: t, Step: r.Step, Channel: r.Attr("channel"),
				To: r.Attr("to"), MessageID: r.Attr("message_sid")})
		case IncidentClosed:
			v.Status, v.Error, v.ClosedAt = r.Attr("status"), r.Attr("error"), &t
		}
		if v.ContainedAt == nil {
			if by, ok := Contains(r); ok {
				v.ContainedAt, v.ContainedBy = &t, by
			}
		}
	}
	if v.ClosedAt == nil {
		for _, g := range v.Approvals {
			if g.Status == StatusWaiting {
				v.Status = StatusWaiting
			}
		}
	}
	return v
}

func attempt(r Record) int32 {
	n, _ := strconv.Atoi(r.Attr("attempt"))
	return int32(n)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sortViews orders incidents newest first, then by id for a stable list.
func sortViews(vs []IncidentView) {
	sort.SliceStable(vs, func(i, j int) bool {
		if !vs[i].OpenedAt.Equal(vs[j].OpenedAt) {
			return vs[i].OpenedAt.After(vs[j].OpenedAt)
		}
		return vs[i].IncidentID < vs[j].IncidentID
	})
}
