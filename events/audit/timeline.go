package audit

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Timeline writes the plain-text timeline of `runbook audit ID`: a header
// with the incident's state, then one line per record with its seq, UTC
// time, offset from the breach event (or the opening), step and what happened.
//
// An id that was used by several occurrences (the bot was breached again)
// gets one section per occurrence, oldest first.
func Timeline(w io.Writer, recs []Record) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "no audit records")
		return err
	}
	runs := Runs(recs)
	for i, run := range runs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if len(runs) > 1 {
			fmt.Fprintf(w, "== occurrence %d of %d (run %s) ==\n", i+1, len(runs), run[0].Run)
		}
		if err := timeline(w, run); err != nil {
			return err
		}
	}
	return nil
}

func timeline(w io.Writer, recs []Record) error {
	v := Project(recs)
	fmt.Fprintf(w, "Incident %s: %s\n", v.IncidentID, v.Status)
	fmt.Fprintf(w, "Runbook %s %s, trigger %s", v.Runbook, v.RunbookHash, v.Trigger)
	if v.TriggerEventID != "" {
		fmt.Fprintf(w, " (event %s)", v.TriggerEventID)
	}
	fmt.Fprintln(w)
	if d, from, ok := v.TimeToContain(); ok {
		fmt.Fprintf(w, "Contained by %s, %s after the %s\n", v.ContainedBy, FormatDuration(d), from)
	} else {
		fmt.Fprintln(w, "Not contained yet")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// Offsets count from the breach event when there is one: that is the
	// clock the attacker and the time-to-contain figure run on.
	start, since := recs[0].Time, "SINCE OPEN"
	if v.EventTime != nil {
		start, since = *v.EventTime, "SINCE EVENT"
	}
	fmt.Fprintf(tw, "SEQ\tTIME (UTC)\t%s\tSTEP\tWHAT\n", since)
	for _, r := range recs {
		step := r.Step
		if step == "" {
			step = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t+%s\t%s\t%s\n", r.Seq, r.Time.UTC().Format("2006-01-02 15:04:05.000"),
			FormatDuration(r.Time.Sub(start)), step, Describe(r))
	}
	return tw.Flush()
}

// FormatDuration prints durations the way an incident review reads them:
// milliseconds under a second, then seconds with two decimals, then
// minutes and seconds.
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + FormatDuration(-d)
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return d.Round(time.Second).String()
}
