package main

import (
	"github.com/spf13/cobra"

	"github.com/keyresponse/runbook/runbooks/authz"
	"github.com/keyresponse/runbook/workflows"
)

func newDrillPauseCommand(g *globals) *cobra.Command {
	var note string
	c := &cobra.Command{
		Use:   "pause SCHEDULE_ID",
		Short: "Pause a drill schedule (no runs until unpaused; a running drill finishes)",
		Args:  cobra.ExactArgs(1),
		RunE: onDrillSchedule(g, authz.VerbDrillPause, func(req *workflows.DrillChangeRequest) { req.Note = note },
			func(id string, res workflows.DrillChangeResult) string {
				return "paused " + id + " (by " + res.By.String() + ")"
			}),
	}
	c.Flags().StringVar(&note, "note", "", "why (shown by drill list; the controller adds who)")
	return c
}
