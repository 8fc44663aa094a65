package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/keyresponse/runbook/workflows"
)

// drillRow is one past (or running) drill of a bot.
type drillRow struct {
	workflows.DrillResult
	Status string `json:"workflow_status"`
}

func newDrillReportCommand(g *globals) *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:   "report BOT",
		Short: "Past drills of a bot: result, time to contain, rotation duration, findings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bot := args[0]
			ctx := cmd.Context()
			tc, err := g.dialTemporal(ctx)
			if err != nil {
				return err
			}
			defer tc.Close()
			// Drill runs are listed from Temporal visibility; each closed
			// run's result (the DrillResult) holds the figures.
			resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Query: "WorkflowType = '" + workflows.DrillWorkflowName + "'", PageSize: 1000})
			if err != nil {
				return err
			}
			rows := []drillRow{}
			for _, e := range resp.Executions {
				id, run := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
				if !drillOfBot(id, bot) {
					continue
				}
				row := drillRow{Status: strings.ToLower(e.GetStatus().String())}
				row.DrillID, row.Bot, row.StartedAt = id, bot, e.GetStartTime().AsTime()
				if e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
					if err := tc.GetWorkflow(ctx, id, run).Get(ctx, &row.DrillResult); err != nil {
						return fmt.Errorf("drill %s: %w", id, err)
					}
				} else if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
					row.Result = workflows.DrillFailed
					row.Reason = "drill workflow " + row.Status
				}
				rows = append(rows, row)
				if limit > 0 && len(rows) >= limit {
					break
				}
			}
			if asJSON, _ := g.jsonOutput(); asJSON {
				return g.printJSON(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(g.stdout, "no drills for %s yet\n", bot)
				return nil
			}
			for _, r := range rows {
				res := r.Result
				if res == "" {
					res = r.Status
				}
				fmt.Fprintf(g.stdout, "%s  %s  %s %s  %s", r.StartedAt.UTC().Format(time.RFC3339), r.DrillID, r.Mode, r.Runbook, strings.ToUpper(res))
				if r.TimeToContain > 0 {
					fmt.Fprintf(g.stdout, "  contained in %s", r.TimeToContain.Round(time.Millisecond))
				}
				if r.RotationDuration > 0 {
					fmt.Fprintf(g.stdout, "  rotation %s", r.RotationDuration.Round(time.Millisecond))
				}
				fmt.Fprintf(g.stdout, "  findings %d\n", len(r.Findings))
				if r.Reason != "" {
					fmt.Fprintf(g.stdout, "    reason: %s\n", r.Reason)
				}
				if r.Rehearsal != nil {
					fmt.Fprintf(g.stdout, "    rehearsal on %s, mirror key %s (%s, whitelist %v) from %s\n", r.Rehearsal.Bot,
						r.Rehearsal.MirrorKeyID, r.Rehearsal.Permissions, r.Rehearsal.IPWhitelist, r.Rehearsal.Source)
				}
				for _, f := range r.Findings {
					fmt.Fprintf(g.stdout, "    finding %s key %s: %s\n", f.Finding, f.KeyID, f.Detail)
				}
			}
			return nil
		},
	}
	c.Flags().IntVar(&limit, "limit", 50, "show at most this many drills, newest first")
	return c
}

// drillOfBot matches the run ids a drill schedule makes,
// drill:<runbook>:<bot>-<scheduled time>, for exactly this bot.
func drillOfBot(id, bot string) bool {
	parts := strings.SplitN(id, ":", 3)
	if len(parts) != 3 || parts[0] != "drill" {
		return false
	}
	rest, ok := strings.CutPrefix(parts[2], bot+"-")
	if !ok {
		return false
	}
	// The suffix is the scheduled time: this keeps bot-1 from matching
	// the drills of bot-1-eu.
	_, err := time.Parse(time.RFC3339, rest)
	return err == nil
}
