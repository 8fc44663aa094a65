package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/keyresponse/runbook/events/audit"
)

// Markdown writes the review as GitHub-flavoured Markdown.
func Markdown(w io.Writer, r Review) error {
	b := bufio.NewWriter(w)
	v := r.View
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = cell(cells[i])
		}
		p("| %s |\n", strings.Join(cells, " | "))
	}

	p("# Post-incident review: %s\n\n", v.IncidentID)
	status := v.Status
	if v.Error != "" {
		status += " (" + v.Error + ")"
	}
	ttc := "not contained"
	if r.Contained {
		ttc = fmt.Sprintf("**%s** (%s → %s)", r.TimeToContain, r.BaseName, r.ContainedBy)
	}
	p("| | |\n|---|---|\n")
	row("Status", status)
	row("Runbook", v.Runbook+" ("+v.RunbookHash+")")
	trigger := v.Trigger
	if v.TriggerEventID != "" {
		trigger += ", event " + v.TriggerEventID
	}
	if by := firstNonEmpty(v.StartedByVerified, v.StartedBy); by != "" {
		trigger += ", started by " + by
	}
	if v.Adhoc {
		trigger += ", ad hoc (not a registered runbook)"
	}
	row("Trigger", trigger)
	if v.EventTime != nil {
		row("Breach event", clock(*v.EventTime))
	}
	row("Opened", r.At(v.OpenedAt))
	row("Contained", r.AtP(v.ContainedAt))
	row("Closed", r.AtP(v.ClosedAt))
	row("Time to contain", ttc)
	row("Evidence events", fmt.Sprint(v.Evidence))
	row("Audit chain", r.Integrity)
	if r.Occurrences > 1 {
		row("Occurrence", fmt.Sprintf("latest of %d with this id (run %s); `runbook audit` shows all", r.Occurrences, v.Run))
	}
	p("\n_%s_\n\n", ContainmentRule)

	p("## Timeline\n\n| # | Time (UTC) | Since %s | Step | What |\n|---:|---|---:|---|---|\n", r.BaseName)
	for _, l := range r.Lines {
		row(fmt.Sprint(l.Seq), l.Time, l.Offset, l.Step, l.What)
	}

	p("\n## Steps\n\n| Step | Action | Status | Attempts | Duration | Outcome |\n|---|---|---|---:|---:|---|\n")
	for _, s := range r.Steps {
		outcome := s.Summary
		if s.Error != "" {
			outcome = s.Error
		}
		status := s.Status
		if s.Compensated && s.Status != audit.StatusCompens {
			status += ", compensated"
		}
		row(s.ID, s.Action, status, fmt.Sprint(s.Attempts), s.Duration, outcome)
	}

	p("\n## What changed on the exchange\n\n")
	if len(v.KeysChanged) == 0 {
		p("Nothing: no key was changed.\n")
	} else {
		p("| Time | Exchange | Key | Fingerprint | Change | Detail | Step |\n|---|---|---|---|---|---|---|\n")
		for _, k := range v.KeysChanged {
			row(r.At(k.Time), k.Exchange, k.KeyID, k.Fingerprint, k.Change, k.Detail, k.Step)
		}
	}

	p("\n## Approvals\n\n")
	if len(v.Approvals) == 0 {
		p("No approval was asked.\n")
	} else {
		p("| Gate | Group | Decision | By | Comment | Asked | Decided |\n|---|---|---|---|---|---|---|\n")
		for _, a := range v.Approvals {
			row(a.Step, a.Group, a.Status, firstNonEmpty(a.Verified, a.Identity), a.Comment, r.AtP(a.AskedAt), r.AtP(a.DecidedAt))
		}
	}

	p("\n## Refused attempts\n\n")
	if len(v.Refusals) == 0 {
		p("None.\n")
	} else {
		p("| Time | Verb | Claimed by | Step | Why refused |\n|---|---|---|---|---|\n")
		for _, f := range v.Refusals {
			row(r.At(f.Time), f.Verb, firstNonEmpty(f.Operator, "(unsigned)"), f.Step, f.Reason)
		}
	}

	p("\n## Notifications\n\n")
	if len(v.Notifications) == 0 {
		p("None sent.\n")
	} else {
		p("| Time | Channel | To | Message | Step |\n|---|---|---|---|---|\n")
		for _, n := range v.Notifications {
			row(r.At(n.Time), n.Channel, n.To, n.MessageID, n.Step)
		}
	}

	p("\n## Follow-ups\n\n")
	if len(r.FollowUps) == 0 {
		p("None.\n")
	}
	for _, f := range r.FollowUps {
		p("- [ ] %s\n", oneLine(f))
	}
	return b.Flush()
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = oneLine(s)
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, "|", `\|`)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// firstNonEmpty prefers the verified identity over the claimed one.
func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
