package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
)

func newDrillPauseCommand(g *globals) *cobra.Command {
	var note string
	c := &cobra.Command{
		Use:   "pause SCHEDULE_ID",
		Short: "Pause a drill schedule (no runs until unpaused; a running drill finishes)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := drillScheduleRef(args[0])
			if err != nil {
				return err
			}
			tc, err := g.dialTemporal(cmd.Context())
			if err != nil {
				return err
			}
			defer tc.Close()
			if note == "" {
				note = "paused by " + g.operator()
			}
			if err := tc.ScheduleClient().GetHandle(cmd.Context(), id).Pause(cmd.Context(), client.SchedulePauseOptions{Note: note}); err != nil {
				return fmt.Errorf("pause %s: %w", id, err)
			}
			fmt.Fprintf(g.stdout, "paused %s\n", id)
			return nil
		},
	}
	c.Flags().StringVar(&note, "note", "", "why (shown by drill list)")
	return c
}
