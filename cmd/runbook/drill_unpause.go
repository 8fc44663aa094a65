package main

import (
	"context"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

func newDrillUnpauseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause SCHEDULE_ID",
		Short: "Resume a paused drill schedule (runs missed while paused are not caught up)",
		Args:  cobra.ExactArgs(1),
		RunE: onDrillSchedule(g, "unpause", func(ctx context.Context, h client.ScheduleHandle) error {
			return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "unpaused by " + g.operator()})
		}, func(id string) string { return "unpaused " + id }),
	}
}
