// Package report renders the post-incident review of one incident from its
// audit records, as Markdown or as a self-contained HTML page whose timeline
// is an inline SVG picture (no scripts, fonts or images from elsewhere).
package report

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyresponse/runbook/events/audit"
)

// Review is everything both formats show. Build it once, render it twice.
type Review struct {
	View audit.IncidentView
	// Base is the clock's zero: the breach event, or the opening of the
	// incident when it was started by hand.
	Base     time.Time
	BaseName string // "breach event" or "incident opened"
	Lines    []Line
	Steps    []Step

	Contained     bool
	TimeToContain string
	ContainedBy   string

	IntegrityOK bool
	Integrity   string
	// Occurrences counts the runs that used this incident id; the review
	// covers the latest.
	Occurrences int
	FollowUps   []string
	Chart       Chart
}

// Line is one record in the timeline table.
type Line struct {
	Seq    uint64
	Time   string
	Offset string
	Step   string
	Kind   string
	What   string
}

// Step is one step's row in the steps table.
type Step struct {
	audit.StepView
	Duration string
}

// ContainmentRule explains the time-to-contain figure in the report itself,
// so a reader does not have to find this source to trust the number.
const ContainmentRule = "Time to contain runs from the breach event's own timestamp (or, for an incident started by hand, " +
	"from its opening) to the first audit record that contains the breach: a succeeded step whose action is " +
	"bot.freeze, exchange.revoke_key or exchange.set_ip_whitelist, or any record marked contained=true."

// Build assembles the review of one incident's records (in stored order,
// as Load returns them): the chain is verified over all of them, and the
// review covers the latest occurrence.
func Build(all []audit.Record) (Review, error) {
	if len(all) == 0 {
		return Review{}, audit.ErrNoRecords
	}
	recs := audit.Latest(all)
	v := audit.Project(recs)
	r := Review{View: v, Base: v.OpenedAt, BaseName: "incident opened", Occurrences: len(audit.Runs(all))}
	if v.EventTime != nil {
		r.Base, r.BaseName = *v.EventTime, "breach event"
	}
	if err := audit.Verify(all); err != nil {
		r.Integrity = err.Error()
	} else {
		r.IntegrityOK = true
		r.Integrity = fmt.Sprintf("intact: %d records, chain head %s", len(all), all[len(all)-1].Hash)
	}
	if d, from, ok := v.TimeToContain(); ok {
		r.Contained, r.ContainedBy = true, v.ContainedBy
		r.TimeToContain = audit.FormatDuration(d)
		if from == "opened" {
			r.TimeToContain += " (from the opening: no event time)"
		}
	}
	for _, rec := range recs {
		r.Lines = append(r.Lines, Line{Seq: rec.Seq, Time: clock(rec.Time), Offset: r.offset(rec.Time),
			Step: rec.Step, Kind: string(rec.Kind), What: audit.Describe(rec)})
	}
	for _, s := range v.Steps {
		st := Step{StepView: s}
		if s.StartedAt != nil && s.EndedAt != nil {
			st.Duration = audit.FormatDuration(s.EndedAt.Sub(*s.StartedAt))
		}
		r.Steps = append(r.Steps, st)
	}
	r.FollowUps = followUps(r)
	r.Chart = buildChart(r, recs)
	return r, nil
}

func (r Review) offset(t time.Time) string {
	d := t.Sub(r.Base)
	if d < 0 {
		return "-" + audit.FormatDuration(-d)
	}
	return "+" + audit.FormatDuration(d)
}

// At formats a time with its offset from the base: "… 09:00:00.150 (+150ms)".
func (r Review) At(t time.Time) string { return clock(t) + " (" + r.offset(t) + ")" }

// AtP is At for an optional time ("-" when unset).
func (r Review) AtP(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return r.At(*t)
}

func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }

// followUps lists what a reviewer must act on, most urgent first.
func followUps(r Review) []string {
	v := r.View
	var out []string
	if !r.IntegrityOK {
		out = append(out, "Audit chain verification failed: "+r.Integrity)
	}
	if !r.Contained {
		out = append(out, "The breach was never contained: no bot.freeze, exchange.revoke_key or exchange.set_ip_whitelist step succeeded.")
	}
	if v.ClosedAt == nil {
		out = append(out, fmt.Sprintf("The incident is not closed (status %s): finish or abort it.", v.Status))
	}
	for _, s := range v.Steps {
		switch {
		case s.Status == audit.StatusFailed:
			out = append(out, fmt.Sprintf("Step %s (%s) failed after %d attempt(s): %s", s.ID, s.Action, s.Attempts, s.Error))
		case s.Status == audit.StatusRunning && v.ClosedAt != nil:
			out = append(out, fmt.Sprintf("Step %s (%s) has no recorded outcome: check what it did.", s.ID, s.Action))
		case s.Status == audit.StatusSkipped:
			out = append(out, fmt.Sprintf("Step %s was skipped (%s): do it by hand if it is still needed.", s.ID, s.Summary))
		case s.Compensated:
			out = append(out, fmt.Sprintf("Step %s (%s) was rolled back by its compensation.", s.ID, s.Action))
		}
		if s.CompensationError != "" {
			out = append(out, fmt.Sprintf("The compensation of step %s (%s) failed: %s — undo it by hand.", s.ID, s.Action, s.CompensationError))
		}
	}
	for _, a := range v.Approvals {
		switch a.Status {
		case audit.StatusWaiting:
			out = append(out, fmt.Sprintf("Approval %s for %s is still open (asked %s).", a.Step, a.Group, r.AtP(a.AskedAt)))
		case audit.StatusDenied:
			out = append(out, fmt.Sprintf("Approval %s was denied by %s (%s): confirm what was done instead.", a.Step, firstNonEmpty(a.Verified, a.Identity), a.Comment))
		}
	}
	if n := len(v.Refusals); n > 0 {
		out = append(out, fmt.Sprintf("%d attempt(s) were refused (see Refused attempts): find out who tried and why.", n))
	}
	return out
}

// Report renders the review of recs in format "md" or "html".
func Report(w io.Writer, recs []audit.Record, format string) error {
	r, err := Build(recs)
	if err != nil {
		return err
	}
	switch strings.ToLower(format) {
	case "md", "markdown":
		return Markdown(w, r)
	case "html":
		return HTML(w, r)
	}
	return errors.New(`report: format must be "md" or "html"`)
}
