package main

import (
	"context"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// registerDrill registers the drill workflow and its activities on a
// worker that already runs the interpreter and the actions. rh may be nil
// (no simulator: rehearse drills then fail with a clear reason).
func registerDrill(w worker.Worker, c client.Client, rh *rehearsals, az authz.Authorizer) {
	workflows.RegisterDrill(w, az)
	oi := openIncidents{c: c}
	w.RegisterActivityWithOptions(oi.list, activity.RegisterOptions{Name: workflows.DrillOpenIncidentsActivity})
	rh.register(w)
}

// openIncidents answers "is a real incident of this bot open?" from
// Temporal visibility: running interpreter workflows whose id is
// <runbook>:<bot>[:<dedup>]. Rehearsal children (rehearsal:<runbook>:<bot>)
// do not match: the bot field is not the bot's id.
type openIncidents struct{ c client.Client }

func (o openIncidents) list(ctx context.Context, req workflows.OpenIncidentsRequest) ([]string, error) {
	var open []string
	var token []byte
	for {
		resp, err := o.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query:         "WorkflowType = '" + workflows.IncidentWorkflowName + "' AND ExecutionStatus = 'Running'",
			NextPageToken: token,
			PageSize:      500,
		})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.Executions {
			id := e.GetExecution().GetWorkflowId()
			if id != req.Except && incidentBot(id) == req.Bot {
				open = append(open, id)
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return open, nil
		}
	}
}

// incidentBot is the bot of an incident id <runbook>:<bot>[:<dedup>].
func incidentBot(id string) string {
	parts := strings.SplitN(id, ":", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}
