package report

import (
	"fmt"
	"math"
	"time"

	"github.com/keyresponse/runbook/events/audit"
)

// Chart is the timeline picture, laid out here so the template only draws.
//
// The time axis is logarithmic: containment happens in milliseconds and an
// approval can take an hour, and both must be readable in one picture. Every
// element carries a <title> so hovering shows the exact fact.
type Chart struct {
	Width, Height float64
	Left, Right   float64 // x range of the plot
	Top, AxisY    float64
	Rows          []Row
	Ticks         []Tick
	Lines         []VLine
}

// Row is one lane: a step, an approval gate, or a kind of fact.
type Row struct {
	Label string
	Y     float64 // centre line
	Bars  []Bar
	Marks []Mark
}

// Bar is a time span.
type Bar struct {
	X, W  float64
	Class string
	Title string
}

// Mark is a point in time. Shape is "dot", "diamond", "cross" or "tick".
type Mark struct {
	X     float64
	Shape string
	Class string
	Title string
}

// Tick is an axis label.
type Tick struct {
	X     float64
	Label string
}

// VLine marks a moment across all rows (breach event, contained, closed).
type VLine struct {
	X      float64
	Label  string
	Class  string
	LabelX float64
	LabelY float64 // staggered so labels of close moments do not overlap
	Anchor string  // "start", or "end" near the right edge
}

const (
	rowHeight  = 24.0
	labelWidth = 170.0
	chartWidth = 960.0
	logUnit    = 10 * time.Millisecond
)

func buildChart(r Review, recs []audit.Record) Chart {
	end := recs[len(recs)-1].Time
	if r.View.ClosedAt != nil {
		end = *r.View.ClosedAt
	}
	span := max(end.Sub(r.Base), time.Second)
	c := Chart{Width: chartWidth, Left: labelWidth, Right: chartWidth - 30, Top: 50}
	scale := func(t time.Time) float64 {
		d := max(t.Sub(r.Base), 0)
		f := math.Log10(1+float64(d)/float64(logUnit)) / math.Log10(1+float64(span)/float64(logUnit))
		return c.Left + (c.Right-c.Left)*math.Min(f, 1)
	}
	bar := func(from, to time.Time, class, title string) Bar {
		x1, x2 := scale(from), scale(to)
		return Bar{X: x1, W: math.Max(x2-x1, 3), Class: class, Title: title}
	}
	mark := func(t time.Time, shape, class, title string) Mark {
		return Mark{X: scale(t), Shape: shape, Class: class, Title: title}
	}
	// Lanes are referred to by index: c.Rows grows while they are added.
	addRow := func(label string) int {
		c.Rows = append(c.Rows, Row{Label: clip(label, 24), Y: c.Top + rowHeight*float64(len(c.Rows)) + rowHeight/2})
		return len(c.Rows) - 1
	}

	v := r.View
	inc := addRow("incident")

	// One lane per step, in the order the steps first appeared.
	steps := map[string]int{}
	starts := map[string]time.Time{}
	for _, s := range v.Steps {
		steps[s.ID] = addRow(s.ID)
	}
	gates := map[string]int{}
	for _, a := range v.Approvals {
		gates[a.Step] = addRow("approval " + a.Step)
	}
	evidenceRow, keysRow, notesRow := addRow("evidence"), addRow("exchange keys"), addRow("notifications")

	incident := &c.Rows[inc]
	incident.Bars = append(incident.Bars, bar(v.OpenedAt, end, "incident st-"+v.Status, fmt.Sprintf("incident %s: %s", v.IncidentID, v.Status)))
	for _, a := range v.Approvals {
		row := &c.Rows[gates[a.Step]]
		if a.AskedAt != nil {
			to := end
			if a.DecidedAt != nil {
				to = *a.DecidedAt
			}
			row.Bars = append(row.Bars, bar(*a.AskedAt, to, "st-waiting-approval", fmt.Sprintf("waiting for %s: %s", a.Group, a.Message)))
		}
	}
	evidence, keys, notes := &c.Rows[evidenceRow], &c.Rows[keysRow], &c.Rows[notesRow]

	for _, rec := range recs {
		title := fmt.Sprintf("#%d %s %s", rec.Seq, r.offset(rec.Time), audit.Describe(rec))
		compensation := rec.Attr("compensation") == "true"
		switch rec.Kind {
		case audit.StepStarted, audit.StepRetried:
			if _, ok := starts[rec.Step]; !ok && !compensation {
				starts[rec.Step] = rec.Time
			}
		case audit.StepSucceeded, audit.StepFailed, audit.StepSkipped, audit.StepCompensated:
			i, ok := steps[rec.Step]
			if !ok {
				continue
			}
			row := &c.Rows[i]
			from, ok := starts[rec.Step]
			if !ok {
				from = rec.Time
			}
			class := map[audit.Kind]string{audit.StepSucceeded: "st-succeeded", audit.StepFailed: "st-failed",
				audit.StepSkipped: "st-skipped", audit.StepCompensated: "st-compensated"}[rec.Kind]
			if rec.Kind == audit.StepFailed {
				row.Marks = append(row.Marks, mark(rec.Time, "cross", "st-failed", title))
			}
			if rec.Kind == audit.StepCompensated || compensation {
				row.Marks = append(row.Marks, mark(rec.Time, "dot", "st-compensated", title))
				continue
			}
			row.Bars = append(row.Bars, bar(from, rec.Time, class, title))
			delete(starts, rec.Step)
		case audit.ApprovalGranted, audit.ApprovalDenied:
			if i, ok := gates[rec.Step]; ok {
				row := &c.Rows[i]
				class := "st-succeeded"
				if rec.Kind == audit.ApprovalDenied {
					class = "st-failed"
				}
				row.Marks = append(row.Marks, mark(rec.Time, "diamond", class, title))
			}
		case audit.EvidenceAdded:
			evidence.Marks = append(evidence.Marks, mark(rec.Time, "dot", "ev", title))
		case audit.KeyChanged:
			keys.Marks = append(keys.Marks, mark(rec.Time, "diamond", "key", title))
		case audit.NotificationSent:
			notes.Marks = append(notes.Marks, mark(rec.Time, "dot", "note", title))
		}
	}
	// Steps still running when the records end.
	for id, from := range starts {
		if i, ok := steps[id]; ok {
			c.Rows[i].Bars = append(c.Rows[i].Bars, bar(from, end, "st-running", id+" has no outcome recorded"))
		}
	}

	c.AxisY = c.Top + rowHeight*float64(len(c.Rows)) + 6
	c.Height = c.AxisY + 40
	for _, tk := range []struct {
		d     time.Duration
		label string
	}{{0, "0"}, {10 * time.Millisecond, "10ms"}, {100 * time.Millisecond, "100ms"}, {time.Second, "1s"},
		{10 * time.Second, "10s"}, {time.Minute, "1m"}, {10 * time.Minute, "10m"}, {time.Hour, "1h"},
		{6 * time.Hour, "6h"}, {24 * time.Hour, "1d"}, {7 * 24 * time.Hour, "7d"}} {
		if tk.d <= span {
			c.Ticks = append(c.Ticks, Tick{X: scale(r.Base.Add(tk.d)), Label: tk.label})
		}
	}
	c.Lines = append(c.Lines, VLine{X: scale(r.Base), Label: r.BaseName, Class: "base"})
	if v.ContainedAt != nil {
		c.Lines = append(c.Lines, VLine{X: scale(*v.ContainedAt), Label: "contained " + r.TimeToContain, Class: "contained"})
	}
	if v.ClosedAt != nil {
		c.Lines = append(c.Lines, VLine{X: scale(*v.ClosedAt), Label: "closed", Class: "closed"})
	}
	for i := range c.Lines {
		l := &c.Lines[i]
		l.LabelY = 13 + 13*float64(i)
		l.LabelX, l.Anchor = l.X+4, "start"
		if l.X > c.Right-140 {
			l.LabelX, l.Anchor = l.X-4, "end"
		}
	}
	return c
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
