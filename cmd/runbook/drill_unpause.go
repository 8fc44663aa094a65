package main

import (
	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newDrillUnpauseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause SCHEDULE_ID",
		Short: "Resume a paused drill schedule (runs missed while paused are not caught up)",
		Args:  cobra.ExactArgs(1),
		RunE: onDrillSchedule(g, authz.VerbDrillUnpause, nil,
			func(id string, res workflows.DrillChangeResult) string {
				return "unpaused " + id + " (by " + res.By.String() + ")"
			}),
	}
}
