package main

import (
	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newDrillDeleteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete SCHEDULE_ID",
		Short: "Delete a drill schedule (past drills stay in the report and the audit trail)",
		Args:  cobra.ExactArgs(1),
		RunE: onDrillSchedule(g, authz.VerbDrillDelete, nil,
			func(id string, res workflows.DrillChangeResult) string {
				return "deleted " + id + " (by " + res.By.String() + ")"
			}),
	}
}
