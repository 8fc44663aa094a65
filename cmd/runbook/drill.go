package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/keyresponse/runbook/integrations/operatorkey"
	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

// newDrillCommand groups the drill verbs: scheduled key-rotation drills and
// breach rehearsals, backed by Temporal Schedules (one per bot and runbook,
// id drill:<runbook>:<bot>). See docs/drills.md. Changes are signed with
// the operator's key and made by the worker's drill controller, never by
// the CLI itself.
func newDrillCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "drill",
		Short: "Scheduled key-rotation drills and breach rehearsals (Temporal Schedules)",
	}
	c.AddCommand(
		newDrillScheduleCommand(g),
		newDrillListCommand(g),
		newDrillPauseCommand(g),
		newDrillUnpauseCommand(g),
		newDrillTriggerCommand(g),
		newDrillDeleteCommand(g),
		newDrillReportCommand(g),
	)
	return c
}

// signDrillStatement signs st as the CLI's operator (opkey.go: --key,
// --as, the roster entry owning the key). A drill.schedule statement keeps
// the validity window it was given: each run of the schedule checks it.
func (g *globals) signDrillStatement(st authz.Statement) (*authz.Signed, error) {
	o, err := g.operatorID()
	if err != nil {
		return nil, err
	}
	if st.Expires.IsZero() {
		return o.sign(st)
	}
	st.Operator = o.Name
	sg, err := operatorkey.Sign(o.Signer, st)
	if err != nil {
		return nil, err
	}
	return &sg, nil
}

// drillScheduleRef accepts a schedule id (drill:<runbook>:<bot>) as given.
func drillScheduleRef(arg string) (string, error) {
	if _, _, ok := workflows.ParseDrillScheduleID(arg); !ok {
		return "", fmt.Errorf("%q is not a drill schedule id (drill:<runbook>:<bot>; see `runbook drill list`)", arg)
	}
	return arg, nil
}

// sendDrillChange signs st (verb and schedule filled in) and sends the
// change to the drill controller, which checks it and makes the schedule
// call. A refusal reads "drill pause refused: <reason>".
func (g *globals) sendDrillChange(ctx context.Context, verb authz.Verb, req workflows.DrillChangeRequest, st authz.Statement) (workflows.DrillChangeResult, error) {
	var res workflows.DrillChangeResult
	short := "drill " + strings.TrimPrefix(string(verb), "drill.")
	st.Verb, st.Schedule = verb, req.Schedule
	signed, err := g.signDrillStatement(st)
	if err != nil {
		return res, fmt.Errorf("%s: %w", short, err)
	}
	req.Signed = signed
	tc, err := g.dialTemporal(ctx)
	if err != nil {
		return res, err
	}
	defer tc.Close()
	h, err := updateWorkflow(ctx, tc, client.UpdateWorkflowOptions{WorkflowID: workflows.DrillControllerID,
		UpdateName: string(verb), Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, &res)
	}
	var ae *temporal.ApplicationError
	var nf *serviceerror.NotFound
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &ae) && ae.Type() == workflows.RefusalErrorType:
		return res, fmt.Errorf("%s refused: %s", short, ae.Message())
	case errors.As(err, &ae):
		return res, fmt.Errorf("%s %s: %s", short, req.Schedule, ae.Message())
	case errors.As(err, &nf):
		return res, fmt.Errorf("%s: no drill controller (%s) is running on Temporal %s: start the worker (`runbook worker` or `runbook dev`)",
			short, workflows.DrillControllerID, g.resolved().Temporal)
	}
	return res, fmt.Errorf("%s %s: %w", short, req.Schedule, err)
}

// onDrillSchedule is the body of the verbs that act on one drill schedule
// (pause, unpause, trigger, delete): check the id, send the signed change
// built by build, then print done(id, who).
func onDrillSchedule(g *globals, verb authz.Verb, build func(req *workflows.DrillChangeRequest),
	done func(id string, res workflows.DrillChangeResult) string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		id, err := drillScheduleRef(args[0])
		if err != nil {
			return err
		}
		req := workflows.DrillChangeRequest{Schedule: id}
		if build != nil {
			build(&req)
		}
		res, err := g.sendDrillChange(cmd.Context(), verb, req, authz.Statement{Comment: req.Note})
		if err != nil {
			return err
		}
		if asJSON, _ := g.jsonOutput(); asJSON {
			return g.printJSON(res)
		}
		fmt.Fprintln(g.stdout, done(id, res))
		return nil
	}
}
