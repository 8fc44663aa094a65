package main

import (
	"context"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

func newDrillPauseCommand(g *globals) *cobra.Command {
	var note string
	c := &cobra.Command{
		Use:   "pause SCHEDULE_ID",
		Short: "Pause a drill schedule (no runs until unpaused; a running drill finishes)",
		Args:  cobra.ExactArgs(1),
		RunE: onDrillSchedule(g, "pause", func(ctx context.Context, h client.ScheduleHandle) error {
			if note == "" {
				note = "paused by " + g.operator()
			}
			return h.Pause(ctx, client.SchedulePauseOptions{Note: note})
		}, func(id string) string { return "paused " + id }),
	}
	c.Flags().StringVar(&note, "note", "", "why (shown by drill list)")
	return c
}
