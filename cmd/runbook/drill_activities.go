package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// drillAuth is what drills need of the worker's authorization: the live
// roster the drill controller and each drill's start check against, and
// the engine's signer for the exec statement of a drill's child incident.
// Either nil fails closed: changes are refused and drills fail
// "refused"; without a signer drills cannot start their runbook.
type drillAuth struct {
	authorizer authz.Authorizer
	// signEngine signs a statement with the engine key (operatorkey.Sign
	// with the worker's engine signer).
	signEngine func(authz.Statement) (authz.Signed, error)
}

// engineStartTTL is how long an engine-signed start statement is valid:
// the child checks it within seconds of the signing.
const engineStartTTL = 5 * time.Minute

// registerDrill registers the drill workflow, the drill controller and
// their activities on a worker that already runs the interpreter and the
// actions. rh may be nil (no simulator: rehearse drills then fail with a
// clear reason). Call ensureDrillController once the worker runs.
func registerDrill(w worker.Worker, c client.Client, rh *rehearsals, da drillAuth) {
	workflows.RegisterDrill(w, da.authorizer)
	oi := openIncidents{c: c}
	w.RegisterActivityWithOptions(oi.list, activity.RegisterOptions{Name: workflows.DrillOpenIncidentsActivity})
	ds := drillSchedules{c: c}
	w.RegisterActivityWithOptions(ds.call, activity.RegisterOptions{Name: workflows.DrillScheduleCallActivity})
	w.RegisterActivityWithOptions(da.signStart, activity.RegisterOptions{Name: workflows.DrillSignStartActivity})
	rh.register(w)
}

// ensureDrillController starts the namespace's drill controller
// (workflows.DrillControllerID) unless it runs already. The worker calls it
// at boot; every drill change goes through it.
func ensureDrillController(ctx context.Context, c client.Client, taskQueue string) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.DrillControllerID,
		TaskQueue:                taskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.DrillControllerWorkflowName, workflows.DrillControllerInput{})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("drill controller: %w", err)
	}
	return nil
}

// signStart is drill.sign_start: the engine vouches for a drill's child
// incident, whose drill has checked its operator's statement.
func (da drillAuth) signStart(ctx context.Context, req workflows.DrillSignStartRequest) (authz.Signed, error) {
	if da.signEngine == nil {
		return authz.Signed{}, temporal.NewNonRetryableApplicationError("this worker has no engine key: drills cannot start their runbook", "NoEngineKey", nil)
	}
	now := time.Now().UTC()
	return da.signEngine(authz.Statement{Verb: authz.VerbExec, Operator: authz.EngineName, Incident: req.Incident,
		Runbook: req.Runbook, RunbookHash: req.RunbookHash, Definition: req.Definition, Inputs: req.Inputs, Trigger: "drill",
		Comment: "drill " + req.Drill, IssuedAt: now, Expires: now.Add(engineStartTTL)})
}

// drillSchedules makes the schedule calls of accepted drill changes: the
// only place that changes a drill's Temporal Schedule.
type drillSchedules struct{ c client.Client }

func (d drillSchedules) call(ctx context.Context, call workflows.DrillScheduleCall) (string, error) {
	h := d.c.ScheduleClient().GetHandle(ctx, call.Schedule)
	var err error
	result := ""
	switch call.Verb {
	case authz.VerbDrillSchedule:
		result, err = d.schedule(ctx, call)
	case authz.VerbDrillPause:
		result, err = "paused", h.Pause(ctx, client.SchedulePauseOptions{Note: call.Note})
	case authz.VerbDrillUnpause:
		result, err = "unpaused", h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: call.Note})
	case authz.VerbDrillTrigger:
		// No overlap override: the schedule's SKIP holds for manual runs too.
		result, err = "triggered", h.Trigger(ctx, client.ScheduleTriggerOptions{})
	case authz.VerbDrillDelete:
		result, err = "deleted", h.Delete(ctx)
	default:
		return "", temporal.NewNonRetryableApplicationError("unknown drill verb "+string(call.Verb), "InvalidRequest", nil)
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return "", temporal.NewNonRetryableApplicationError("no drill schedule "+call.Schedule+" (see `runbook drill list`)", "NotFound", err)
	}
	return result, err
}

// schedule creates the schedule, or replaces its spec and action.
func (d drillSchedules) schedule(ctx context.Context, call workflows.DrillScheduleCall) (string, error) {
	in := call.Drill
	if in == nil {
		return "", temporal.NewNonRetryableApplicationError("drill.schedule without a drill input", "InvalidRequest", nil)
	}
	spec := client.ScheduleSpec{Jitter: call.Spec.Jitter}
	if call.Spec.Every > 0 {
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: call.Spec.Every}}
	}
	if call.Spec.Cron != "" {
		spec.CronExpressions = []string{call.Spec.Cron}
	}
	action := &client.ScheduleWorkflowAction{
		// Temporal appends the scheduled time: drill:<runbook>:<bot>-<time>.
		ID:                       call.Schedule,
		Workflow:                 workflows.DrillWorkflowName,
		Args:                     []any{*in},
		TaskQueue:                call.TaskQueue,
		WorkflowExecutionTimeout: 25 * time.Hour,
	}
	memo := map[string]any{"bot": in.Bot, "mode": in.Mode, "runbook": in.Child.Runbook.Name,
		"runbook_hash": in.Child.RunbookHash, "scheduled_by": call.By}
	_, err := d.c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:     call.Schedule,
		Spec:   spec,
		Action: action,
		// SKIP: a drill still running when the next is due is not
		// doubled; the due one is dropped.
		Overlap:       enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow: time.Hour,
		Paused:        call.Spec.Paused,
		Memo:          memo,
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return "created", err
	}
	err = d.c.ScheduleClient().GetHandle(ctx, call.Schedule).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := u.Description.Schedule
			s.Spec, s.Action = &spec, action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap, s.Policy.CatchupWindow = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, time.Hour
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	return "updated", err
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
