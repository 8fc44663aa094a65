package main

import (
	"context"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

func newDrillDeleteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete SCHEDULE_ID",
		Short: "Delete a drill schedule (past drills stay in the report and the audit trail)",
		Args:  cobra.ExactArgs(1),
		RunE: onDrillSchedule(g, "delete", func(ctx context.Context, h client.ScheduleHandle) error {
			return h.Delete(ctx)
		}, func(id string) string { return "deleted " + id }),
	}
}
