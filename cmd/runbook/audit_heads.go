package main

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/workflows"
)

// The Go SDK records a local activity as a "LocalActivity" marker whose
// details hold "data" (which activity) and "result" (what it returned),
// both encoded with the workflow's data converter (so the payload codec).
const (
	localActivityMarker = "LocalActivity"
	markerData          = "data"
	markerResult        = "result"
)

// auditHeads reads the audit chain heads from the Temporal history of each
// run of incidentID: the results of the workflow's audit.record /
// audit.record_batch local activities (workflows.AuditHead). The workflow
// id is the incident id; runs come from the records' run field.
func (g *globals) auditHeads(ctx context.Context, incidentID string, runs []string) ([]audit.Head, error) {
	c, err := g.dialTemporal(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	kr, err := g.payloadKeyring()
	if err != nil {
		return nil, err
	}
	dc := dataConverter(kr)
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	var heads []audit.Head
	for _, run := range runs {
		it := c.GetWorkflowHistory(ctx, incidentID, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("temporal history of %s run %s: %w", incidentID, run, err)
			}
			m := ev.GetMarkerRecordedEventAttributes()
			if m == nil || m.GetMarkerName() != localActivityMarker || m.GetFailure() != nil {
				continue
			}
			var data struct{ ActivityType string }
			if err := dc.FromPayloads(m.GetDetails()[markerData], &data); err != nil {
				return nil, fmt.Errorf("temporal history of %s run %s: marker %d: %w", incidentID, run, ev.GetEventId(), err)
			}
			if data.ActivityType != workflows.AuditActivityName && data.ActivityType != workflows.AuditBatchActivityName {
				continue
			}
			res, ok := m.GetDetails()[markerResult]
			if !ok {
				continue
			}
			var h audit.Head
			if err := dc.FromPayloads(res, &h); err != nil {
				return nil, fmt.Errorf("temporal history of %s run %s: audit head at event %d: %w", incidentID, run, ev.GetEventId(), err)
			}
			if h.Seq > 0 { // histories from before chain heads return nothing
				heads = append(heads, h)
			}
		}
	}
	return heads, nil
}
