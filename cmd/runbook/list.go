package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/keyresponse/runbook/events/audit"
	"github.com/keyresponse/runbook/events/natsauth"
	"github.com/keyresponse/runbook/workflows"
)

type incidentSummary struct {
	IncidentID string     `json:"incident_id"`
	RunID      string     `json:"run_id"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
}

type runbookSummary struct {
	Name        string `json:"name"`
	Version     string `json:"version,omitempty"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	Hash        string `json:"hash"`
}

func newListCommand(g *globals) *cobra.Command {
	var limit int
	var bot, runbookName string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the runbooks the engine knows and the most recent incidents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			rbs, err := g.allRunbooks()
			if err != nil {
				return err
			}
			var books []runbookSummary
			for _, lr := range rbs {
				books = append(books, runbookSummary{Name: lr.Runbook.Name, Version: lr.Runbook.Version, Description: lr.Runbook.Description, File: lr.File, Hash: lr.Hash})
			}
			var incidents []incidentSummary
			var incErr error
			if c, err := g.dialTemporal(cmd.Context()); err != nil {
				incErr = err
			} else {
				defer c.Close()
				query := fmt.Sprintf("WorkflowType = '%s'", workflows.IncidentWorkflowName)
				if bot != "" {
					query += fmt.Sprintf(" AND BotID = '%s'", strings.ReplaceAll(bot, "'", ""))
				}
				if runbookName != "" {
					query += fmt.Sprintf(" AND RunbookName = '%s'", strings.ReplaceAll(runbookName, "'", ""))
				}
				resp, err := c.ListWorkflow(cmd.Context(), &workflowservice.ListWorkflowExecutionsRequest{
					Query:    query,
					PageSize: int32(limit),
				})
				if err != nil {
					incErr = err
				} else {
					incidents = summarize(resp.GetExecutions())
				}
			}
			// The audit projection: each incident's state rebuilt from its
			// facts in the AUDIT stream (outcome, time to contain).
			var views []audit.IncidentView
			var auditErr error
			if nc, js, err := g.connectNATS(cmd.Context(), natsauth.RoleOperator); err != nil {
				auditErr = err
			} else {
				views, auditErr = audit.ListIncidents(cmd.Context(), js, audit.DirectReads())
				nc.Close()
			}
			if asJSON {
				out := map[string]any{"runbooks": books, "incidents": incidents, "audit": views}
				if incErr != nil {
					out["incidents_error"] = incErr.Error()
				}
				if auditErr != nil {
					out["audit_error"] = auditErr.Error()
				}
				return g.printJSON(out)
			}
			fmt.Fprintln(g.stdout, "RUNBOOKS")
			for _, b := range books {
				fmt.Fprintf(g.stdout, "  %-24s %-8s %s\n", b.Name, b.Version, b.Description)
			}
			fmt.Fprintln(g.stdout, "\nINCIDENTS")
			if incErr != nil {
				fmt.Fprintf(g.stdout, "  (unavailable: %v)\n", incErr)
				return nil
			}
			if len(incidents) == 0 {
				fmt.Fprintln(g.stdout, "  (none)")
			}
			for _, i := range incidents {
				fmt.Fprintf(g.stdout, "  %-40s %-11s %s\n", i.IncidentID, i.Status, i.StartedAt.Format(time.RFC3339))
			}
			fmt.Fprintln(g.stdout, "\nAUDIT (rebuilt from the AUDIT stream)")
			if auditErr != nil {
				fmt.Fprintf(g.stdout, "  (unavailable: %v)\n", auditErr)
				return nil
			}
			for i, v := range views {
				if i == limit {
					break
				}
				ttc := "-"
				if d, _, ok := v.TimeToContain(); ok {
					ttc = d.Round(time.Millisecond).String()
				}
				fmt.Fprintf(g.stdout, "  %-40s %-11s contained in %-8s %d records\n", v.IncidentID, v.Status, ttc, v.Records)
			}
			return nil
		},
	}
	c.Flags().IntVar(&limit, "limit", 20, "how many recent incidents to show")
	c.Flags().StringVar(&bot, "bot", "", "only incidents of this bot (search attribute BotID)")
	c.Flags().StringVar(&runbookName, "runbook", "", "only incidents of this runbook (search attribute RunbookName)")
	return c
}

func summarize(execs []*workflowpb.WorkflowExecutionInfo) []incidentSummary {
	var out []incidentSummary
	for _, e := range execs {
		s := incidentSummary{
			IncidentID: e.GetExecution().GetWorkflowId(),
			RunID:      e.GetExecution().GetRunId(),
			Status:     temporalStatus(e.GetStatus().String()),
			StartedAt:  e.GetStartTime().AsTime(),
		}
		if e.GetCloseTime() != nil {
			t := e.GetCloseTime().AsTime()
			s.ClosedAt = &t
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	return out
}

// temporalStatus shortens WORKFLOW_EXECUTION_STATUS_RUNNING to running. The
// incident's own outcome (succeeded, failed, denied...) is in `status`.
func temporalStatus(s string) string {
	const prefix = "WORKFLOW_EXECUTION_STATUS_"
	if len(s) > len(prefix) {
		s = s[len(prefix):]
	}
	b := []byte(s)
	for i := range b {
		if b[i] >= 'A' && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}
