package observability

import (
	"context"
	"log/slog"
	"time"

	"github.com/keyresponse/runbook/events/audit"
)

// IncidentObserver turns the incident-level audit facts into metrics:
// incident.opened counts an incident started (by runbook and trigger);
// incident.closed loads the incident's records, projects the run that
// closed, and counts its outcome and observes its time to contain.
//
// Call Observe with each record after it was appended, in the process that
// appended it (the worker's audit activity), so an incident is counted
// once across all workers. Records are read back from the AUDIT stream
// because a run's steps may have been written by other workers.
type IncidentObserver struct {
	Metrics *Metrics
	// Load returns every record of an incident, e.g.
	//   func(ctx context.Context, id string) ([]audit.Record, error) { return audit.Load(ctx, js, id) }
	Load   func(ctx context.Context, incidentID string) ([]audit.Record, error)
	Logger *slog.Logger
}

// Observe records the metrics rec implies. It never fails: a record it
// cannot use is logged.
func (o *IncidentObserver) Observe(ctx context.Context, rec audit.Record) {
	switch rec.Kind {
	case audit.IncidentOpened:
		o.Metrics.IncidentStarted(rec.Attr("runbook"), rec.Attr("trigger"))
	case audit.IncidentClosed:
		o.closed(ctx, rec)
	case audit.DrillResult:
		ttc, _ := time.ParseDuration(rec.Attr("time_to_contain"))
		rot, _ := time.ParseDuration(rec.Attr("rotation_duration"))
		o.Metrics.DrillFinished(rec.Attr("mode"), rec.Attr("runbook"), rec.Attr("result"), ttc, rot)
	case audit.DrillFinding:
		o.Metrics.DrillFinding(rec.Attr("finding"))
	}
}

func (o *IncidentObserver) closed(ctx context.Context, rec audit.Record) {
	outcome := rec.Attr("status")
	var recs []audit.Record
	if o.Load != nil {
		var err error
		if recs, err = o.Load(ctx, rec.IncidentID); err != nil {
			o.logger().Warn("incident metrics: cannot load the audit trail; outcome counted without time to contain",
				"incident", rec.IncidentID, "err", err)
		}
	}
	v := audit.Project(runOf(recs, rec.Run))
	runbook := v.Runbook
	if runbook == "" {
		runbook = "unknown"
	}
	d, _, contained := v.TimeToContain()
	o.Metrics.IncidentClosed(runbook, outcome, d, contained)
}

// runOf picks the records of one run (the one that closed); with no run id
// the latest run.
func runOf(recs []audit.Record, run string) []audit.Record {
	runs := audit.Runs(recs)
	for _, r := range runs {
		if run != "" && len(r) > 0 && r[0].Run == run {
			return r
		}
	}
	return audit.Latest(recs)
}

func (o *IncidentObserver) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// ObserveView counts a finished incident from its projection, for callers
// that hold one already (a report, a reconciling job).
func (m *Metrics) ObserveView(v audit.IncidentView) {
	d, _, contained := v.TimeToContain()
	m.IncidentClosed(v.Runbook, v.Status, d, contained)
}
